use std::fmt;

/// An email address as people type it, checked for the shape `local@domain.tld`.
/// Compared case-insensitively through [`Email::lower`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Email, String> {
        let value = raw.trim();
        let invalid = || format!("{value:?} is not an email address");
        if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = value.rsplit_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty() || local.len() > 64 || !domain_ok || local.contains('@') {
            return Err(invalid());
        }
        Ok(Email(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn lower(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn accepts_ordinary_addresses() {
        for ok in ["ines.moreau@acme.example", "a+b@x.co.uk", " Trim@Me.Example "] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(Email::parse("Ines@ACME.example").unwrap().lower(), "ines@acme.example");
    }

    #[test]
    fn rejects_non_addresses() {
        for bad in ["", "ines", "@acme.example", "ines@", "ines@acme", "in es@acme.example",
                    "ines@acme..example", "ines@.acme.example", "a@b@c.example"] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }
}
