use std::fmt;

/// A new password chosen by a person. Never printed: `Debug` is redacted.
pub struct Password(String);

pub const MIN_PASSWORD_CHARS: usize = 10;

impl Password {
    pub fn parse(raw: &str) -> Result<Password, String> {
        let chars = raw.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(format!("password must be at least {MIN_PASSWORD_CHARS} characters"));
        }
        if chars > 512 {
            return Err("password must be at most 512 characters".to_owned());
        }
        Ok(Password(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(**redacted**)")
    }
}

#[cfg(test)]
mod tests {
    use super::Password;

    #[test]
    fn short_passwords_are_refused_and_debug_hides_the_value() {
        assert!(Password::parse("short").is_err());
        let p = Password::parse("correct horse battery").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }
}
