use std::fmt;

/// A company's short code (`a01`): 2–16 lowercase ASCII letters or digits. It appears in
/// Tenant URLs and SCIM token prefixes, so nothing else is allowed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Shortcode(String);

impl Shortcode {
    pub fn parse(raw: &str) -> Result<Shortcode, String> {
        let value = raw.trim();
        if !(2..=16).contains(&value.len()) {
            return Err(format!("shortcode {value:?} must be 2 to 16 characters long"));
        }
        if !value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
            return Err(format!("shortcode {value:?} may contain only lowercase letters and digits"));
        }
        Ok(Shortcode(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Shortcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Shortcode;

    #[test]
    fn accepts_lowercase_letters_and_digits() {
        for ok in ["a01", "demo", "ab", "abcdefghij012345"] {
            assert_eq!(Shortcode::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_everything_else() {
        for bad in ["a", "A01", "a-01", "a 1", "", "abcdefghij0123456", "é1", "a01/"] {
            assert!(Shortcode::parse(bad).is_err(), "{bad:?}");
        }
    }
}
