/// A display name typed by a person: trimmed, 1–`MAX` characters, no control characters.
fn parse_name(what: &str, raw: &str, max: usize) -> Result<String, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(format!("{what} is required"));
    }
    if value.chars().count() > max {
        return Err(format!("{what} must be at most {max} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{what} must not contain control characters"));
    }
    Ok(value.to_owned())
}

/// A company's name as shown in the portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyName(String);

impl CompanyName {
    pub fn parse(raw: &str) -> Result<CompanyName, String> {
        parse_name("company name", raw, 120).map(CompanyName)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Passle's name, unique within its company (case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassleName(String);

impl PassleName {
    pub fn parse(raw: &str) -> Result<PassleName, String> {
        parse_name("Passle name", raw, 120).map(PassleName)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn lower(&self) -> String {
        self.0.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(CompanyName::parse("  Acme  ").unwrap().as_str(), "Acme");
        assert!(CompanyName::parse("   ").is_err());
        assert!(PassleName::parse(&"x".repeat(121)).is_err());
        assert!(PassleName::parse("a\u{7}b").is_err());
        assert_eq!(PassleName::parse("News").unwrap().lower(), "news");
    }
}
