//! A company's own pages (`/c/{shortcode}/…`), for its admins and for staff.

pub mod activity;
pub mod entra;
pub mod groups;
pub mod passles;
pub mod people;

/// Reads a form whose fields may repeat (checkbox lists), keeping every pair.
pub fn form_pairs(body: &[u8]) -> Result<Vec<(String, String)>, crate::error::PortalError> {
    serde_urlencoded::from_bytes(body).map_err(|_| crate::error::PortalError::BadRequest("the form could not be read".into()))
}

pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
}

pub fn ids(pairs: &[(String, String)], name: &str) -> Vec<i64> {
    pairs.iter().filter(|(k, _)| k == name).filter_map(|(_, v)| v.parse().ok()).collect()
}
