//! Passwords, portal sessions and SCIM bearer tokens.

pub mod password;
pub mod session;
