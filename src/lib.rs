//! Entrada: a multi-tenant admin portal with per-company SCIM 2.0 endpoints for Microsoft
//! Entra ID provisioning. See README.md for the product and ARCHITECTURE notes in the modules.

pub mod auth;
pub mod cli;
pub mod config;
pub mod provisioning;
pub mod db;
pub mod error;
pub mod domain;
pub mod models;
pub mod routes;
pub mod scim;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod web;
