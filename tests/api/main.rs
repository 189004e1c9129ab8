//! One integration-test binary; one module per area.

mod helpers;

mod cli;
mod db_connections;
mod db_writes;
mod foundation;
mod provisioning_rules;
mod recent_reads;
mod rules_direct;
mod scim_basics;
mod scim_quirks;
mod scim_contract;
mod portal;
mod portal_isolation;
mod browser;
mod scim_groups;
mod group_mappings;
mod query_plans;
