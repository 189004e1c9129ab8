//! Entra-shaped request bodies and the responses checked.

use super::*;

pub(crate) const GIVEN: [&str; 8] = ["Ines", "Jonas", "Amara", "Kenji", "Sofia", "Mateo", "Leila", "Pieter"];
pub(crate) const TITLES: [&str; 5] = ["Site Lead", "Account Manager", "Engineer", "Analyst", "Field Technician"];
pub(crate) const DEPARTMENTS: [&str; 4] = ["Operations", "Sales", "Research", "Finance"];

pub(crate) fn local_part(i: usize, tag: &str) -> String {
    if tag.is_empty() { format!("user{i:06}") } else { format!("user{i:06}.{tag}") }
}

pub(crate) fn user_name(i: usize, tag: &str, shortcode: &str) -> String {
    format!("{}@{shortcode}.example", local_part(i, tag))
}

/// The body Entra POSTs for a new user (core + enterprise extension), like tests/api/helpers.rs.
pub(crate) fn entra_user_body(i: usize, tag: &str, shortcode: &str) -> Bytes {
    let local = local_part(i, tag);
    let given = GIVEN[i % GIVEN.len()];
    let family = format!("Family{i:06}");
    let title = TITLES[i % TITLES.len()];
    let department = DEPARTMENTS[i % DEPARTMENTS.len()];
    let mut s = String::with_capacity(900);
    let _ = write!(
        s,
        concat!(
            r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"#,
            r#""externalId":"{local}","userName":"{local}@{sc}.example","active":true,"displayName":"{given} {family}","#,
            r#""title":"{title}","emails":[{{"primary":true,"type":"work","value":"{local}@{sc}.example"}}],"#,
            r#""name":{{"formatted":"{given} {family}","givenName":"{given}","familyName":"{family}"}},"#,
            r#""phoneNumbers":[{{"type":"work","value":"+33 1 {p1:02} {p2:02} {p3:02} {p4:02}"}},{{"type":"mobile","value":"+33 6 {p4:02} {p3:02} {p2:02} {p1:02}"}}],"#,
            r#""urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{{"department":"{department}","employeeNumber":"E-{i:06}"}},"#,
            r#""meta":{{"resourceType":"User"}},"roles":[]}}"#
        ),
        local = local,
        sc = shortcode,
        given = given,
        family = family,
        title = title,
        department = department,
        i = i,
        p1 = i % 100,
        p2 = (i / 100) % 100,
        p3 = (i / 10_000) % 100,
        p4 = (i * 7) % 100,
    );
    Bytes::from(s)
}

pub(crate) fn moved_email(i: usize, tag: &str, shortcode: &str) -> String {
    format!("{}.moved@{shortcode}.example", local_part(i, tag))
}

/// The PATCH Entra sends in its old dialect: a filtered email path, and for 10% of the users
/// a disable with a string boolean.
pub(crate) fn entra_patch_body(i: usize, tag: &str, shortcode: &str) -> Bytes {
    let email = moved_email(i, tag, shortcode);
    let disable = if deactivated(i) { r#",{"op":"Replace","path":"active","value":"False"}"# } else { "" };
    Bytes::from(format!(
        r#"{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{{"op":"Replace","path":"emails[type eq \"work\"].value","value":"{email}"}}{disable}]}}"#
    ))
}

pub(crate) fn deactivated(i: usize) -> bool {
    i % 10 == 3
}

/// `filter=attr+eq+%22value%22` the way Entra encodes it.
pub(crate) fn filter_path(shortcode: &str, attr: &str, value: &str) -> String {
    let mut s = format!("/scim/{shortcode}/v2/Users?filter={attr}+eq+%22");
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            s.push(b as char);
        } else {
            let _ = write!(s, "%{b:02X}");
        }
    }
    s.push_str("%22");
    s
}

#[derive(Deserialize)]
pub(crate) struct ListResp {
    #[serde(rename = "totalResults")]
    pub(crate) total: u64,
    #[serde(rename = "Resources", default)]
    pub(crate) resources: Vec<UserResp>,
}

#[derive(Deserialize)]
pub(crate) struct UserResp {
    #[serde(default)]
    pub(crate) id: String,
    #[serde(rename = "userName", default)]
    pub(crate) user_name: String,
    #[serde(default)]
    pub(crate) active: Option<bool>,
    #[serde(default)]
    pub(crate) emails: Vec<EmailResp>,
}

#[derive(Deserialize)]
pub(crate) struct EmailResp {
    #[serde(default)]
    pub(crate) value: String,
    #[serde(rename = "type", default)]
    pub(crate) kind: Option<String>,
}
