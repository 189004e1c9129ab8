//! Rows and their queries. Every query on tenant-owned data takes the company's id.

/// Pushes `value`s as binds of the given SQL types, separated by commas.
macro_rules! binds {
    ($out:ident; $($ty:ty => $value:expr),+ $(,)?) => {{
        let mut first = true;
        $(
            if !std::mem::take(&mut first) {
                $out.push_sql(", ");
            }
            $out.push_bind_param::<$ty, _>($value)?;
        )+
    }};
}

pub mod account;
pub mod activity;
pub mod assignment;
pub mod group;
mod one_trip;
pub mod user;
pub mod company;
pub mod passle;
pub mod session;
pub mod scim_token;
pub mod setup_token;

pub use company::{Company, CompanyId};

/// Current time, UTC, at microsecond precision on both backends.
pub fn now() -> chrono::NaiveDateTime {
    let now = chrono::Utc::now();
    chrono::DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now).naive_utc()
}
