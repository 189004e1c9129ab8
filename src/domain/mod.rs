//! Parsed values: once a value has one of these types it is known to be valid.

mod email;
mod names;
mod password;
mod role;
mod secret;
mod shortcode;
mod user_attributes;

pub use email::Email;
pub use names::{CompanyName, PassleName};
pub use password::Password;
pub use role::{ProvisioningMode, Role};
pub use secret::{Secret, random_alphanumeric, sha256_hex, constant_time_eq, new_scim_id};
pub use shortcode::Shortcode;
pub use user_attributes::{INDEXED_MULTI_VALUED, MULTI_VALUED, UserAttributes, is_extension_path};
