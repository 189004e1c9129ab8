//! The portal (pages and forms) and operational endpoints.

pub mod account;
pub mod company;
pub mod health;
pub mod layout;
pub mod setup;
pub mod staff;
