//! A person's SCIM attributes, as Entra last wrote them (values kept exactly as sent).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::Email;

/// Multi-valued attributes of the User schema (each kept as one array).
pub const MULTI_VALUED: [&str; 8] =
    ["emails", "phoneNumbers", "ims", "photos", "addresses", "entitlements", "roles", "x509Certificates"];

/// The multi-valued attribute whose elements are indexed for filters (Entra may match on an
/// email); every extension attribute is indexed too (see [`is_extension_path`]).
pub const INDEXED_MULTI_VALUED: &str = "emails";

/// Whether an attribute path or schema URN belongs to an extension schema (enterprise or
/// custom): it starts with `urn:`, in any case.
pub fn is_extension_path(path: &str) -> bool {
    path.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct UserAttributes {
    pub user_name: String,
    pub external_id: Option<String>,
    /// `active` exactly as the identity provider last set it (absent when never sent or
    /// removed; the product treats absent as active).
    pub active: Option<bool>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub title: Option<String>,
    pub preferred_language: Option<String>,
    /// SCIM id of the manager (enterprise extension `manager.value`).
    pub manager: Option<String>,
    /// Other single-valued attributes by canonical path: `name.formatted`, `nickName`,
    /// `<enterprise urn>:department`, `<custom urn>:<attribute>` …
    pub scalars: BTreeMap<String, Value>,
    /// Multi-valued attributes by canonical name; elements in the order sent.
    pub multi: BTreeMap<String, Vec<Map<String, Value>>>,
}

impl UserAttributes {
    /// The person's email address: the work email, else the primary one, else the first one,
    /// else the userName when it is an address (Entra's userPrincipalName usually is).
    pub fn email(&self) -> Option<Email> {
        let emails = self.multi.get("emails").map(Vec::as_slice).unwrap_or_default();
        let value_of = |e: &Map<String, Value>| e.get("value").and_then(Value::as_str).and_then(|v| Email::parse(v).ok());
        let is = |e: &Map<String, Value>, key: &str, want: &Value| e.get(key).is_some_and(|v| match (v, want) {
            (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        });
        emails
            .iter()
            .filter(|e| is(e, "type", &Value::String("work".into())))
            .find_map(value_of)
            .or_else(|| emails.iter().filter(|e| is(e, "primary", &Value::Bool(true))).find_map(value_of))
            .or_else(|| emails.iter().find_map(value_of))
            .or_else(|| Email::parse(&self.user_name).ok())
    }

    /// How the person is called in the product: given + family name, else displayName, else
    /// userName.
    /// False only when the identity provider said `active: false`.
    pub fn is_active(&self) -> bool {
        self.active != Some(false)
    }

    pub fn full_name(&self) -> String {
        let parts: Vec<&str> =
            [self.given_name.as_deref(), self.family_name.as_deref()].into_iter().flatten().collect();
        if !parts.is_empty() {
            return parts.join(" ");
        }
        self.display_name.clone().unwrap_or_else(|| self.user_name.clone())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn with_emails(emails: Value) -> UserAttributes {
        let list = emails.as_array().unwrap().iter().map(|e| e.as_object().unwrap().clone()).collect();
        UserAttributes { user_name: "upn@acme.example".into(), multi: [("emails".to_owned(), list)].into(), ..Default::default() }
    }

    #[test]
    fn the_work_email_wins_then_primary_then_first_then_user_name() {
        let u = with_emails(json!([{"value": "home@x.example", "type": "home", "primary": true}, {"value": "work@x.example", "type": "Work"}]));
        assert_eq!(u.email().unwrap().as_str(), "work@x.example");
        let u = with_emails(json!([{"value": "a@x.example"}, {"value": "p@x.example", "primary": true}]));
        assert_eq!(u.email().unwrap().as_str(), "p@x.example");
        let u = with_emails(json!([{"value": "not an email", "type": "work"}, {"value": "b@x.example"}]));
        assert_eq!(u.email().unwrap().as_str(), "b@x.example");
        let u = with_emails(json!([]));
        assert_eq!(u.email().unwrap().as_str(), "upn@acme.example");
        let u = UserAttributes { user_name: "jdoe".into(), ..Default::default() };
        assert!(u.email().is_none());
    }
}
