//! The product's rules: what Entra's requests do to a company's people. Plain functions over
//! a connection (inside the caller's transaction), called by the SCIM handlers and the portal.

mod changes;
pub mod connection;
pub mod groups;
mod error;
pub mod status;
pub mod users;

pub use changes::describe_changes;
pub use error::ProvisioningError;
pub use status::PersonStatus;
