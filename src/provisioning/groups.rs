//! What SCIM group writes do: memberships change set-based, and a group mapped to Passles
//! grants its members a role there while they are members (assignment source `group:<id>`).
//! Leaving removes only what the mapping granted; other assignments stay.

use std::collections::BTreeSet;

use crate::db::{AnyConnection, DbError};
use crate::domain::Role;
use crate::models::CompanyId;
use crate::models::activity::NewActivity;
use crate::models::assignment::{Assignment, Who};
use crate::models::group::Group;

use super::ProvisioningError;
use super::users::ENTRA;

/// Member changes of one request, in the order the operations asked for them.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct MemberChanges {
    /// The whole member list is replaced by this (then `add`/`remove` apply on top).
    pub replace_all: Option<BTreeSet<String>>,
    pub add: BTreeSet<String>,
    pub remove: BTreeSet<String>,
}

impl MemberChanges {
    pub fn add(&mut self, id: String) {
        self.remove.remove(&id);
        self.add.insert(id);
    }

    pub fn remove(&mut self, id: String) {
        self.add.remove(&id);
        if let Some(all) = &mut self.replace_all {
            all.remove(&id);
        }
        self.remove.insert(id);
    }

    pub fn replace(&mut self, ids: BTreeSet<String>) {
        self.add.clear();
        self.remove.clear();
        self.replace_all = Some(ids);
    }

    pub fn is_empty(&self) -> bool {
        self.replace_all.is_none() && self.add.is_empty() && self.remove.is_empty()
    }
}

pub fn source_key(group_id: i64) -> String {
    format!("group:{group_id}")
}

fn unique_conflict(err: diesel::result::Error, name: &str) -> ProvisioningError {
    let err = DbError::from(err);
    if err.is_unique_violation() {
        let what = if err.to_string().contains("external") { "externalId" } else { "displayName" };
        ProvisioningError::Conflict(format!("a group with this {what} already exists in this company ({name:?})"))
    } else {
        ProvisioningError::Db(err)
    }
}

pub fn create_group(conn: &mut AnyConnection, company: CompanyId, display_name: &str, external_id: Option<&str>, members: &MemberChanges) -> Result<Group, ProvisioningError> {
    let group = Group::insert(conn, company, display_name, external_id).map_err(|e| unique_conflict(e, display_name))?;
    let summary = apply_members(conn, company, &group, members)?;
    record(conn, company, "create", &group, 201, format!("group created{summary}"))?;
    Ok(group)
}

/// Applies name/externalId and member changes; unknown member ids to add are an error
/// naming them (other companies' people are unknown too).
pub fn update_group(
    conn: &mut AnyConnection,
    company: CompanyId,
    group: &Group,
    display_name: &str,
    external_id: Option<&str>,
    members: &MemberChanges,
    operation: &str,
) -> Result<Group, ProvisioningError> {
    let updated = Group::update(conn, group, display_name, external_id).map_err(|e| unique_conflict(e, display_name))?;
    let mut detail = Vec::new();
    if group.display_name != display_name {
        detail.push(format!("displayName = {display_name:?}"));
    }
    if group.external_id.as_deref() != external_id {
        detail.push(format!("externalId = {:?}", external_id.unwrap_or("")));
    }
    let summary = apply_members(conn, company, &updated, members)?;
    let mut text = detail.join("; ");
    text.push_str(&summary);
    record(conn, company, operation, &updated, 204, if text.is_empty() { "no change".into() } else { text.trim_start_matches("; ").to_owned() })?;
    Ok(updated)
}

pub fn delete_group(conn: &mut AnyConnection, company: CompanyId, group: &Group) -> Result<(), ProvisioningError> {
    Assignment::revoke_source(conn, company, Who::Everyone, &source_key(group.id), None)?;
    Group::delete(conn, group)?;
    record(conn, company, "delete", group, 204, "group deleted; its members stay as people, only the group's mapped assignments were removed".into())?;
    Ok(())
}

fn apply_members(conn: &mut AnyConnection, company: CompanyId, group: &Group, changes: &MemberChanges) -> Result<String, ProvisioningError> {
    if changes.is_empty() {
        return Ok(String::new());
    }
    let wanted: Vec<String> = changes.add.iter().chain(changes.replace_all.iter().flatten()).cloned().collect();
    let known = Group::resolve_members(conn, company, &wanted)?;
    let unknown: Vec<&String> = wanted.iter().filter(|id| !known.contains_key(*id)).collect();
    if !unknown.is_empty() {
        let list: Vec<String> = unknown.iter().map(|s| format!("{s:?}")).collect();
        return Err(ProvisioningError::Invalid(format!("unknown member id(s) for this company: {}", list.join(", "))));
    }
    let mut removed = Vec::new();
    if let Some(all) = &changes.replace_all {
        let keep: Vec<i64> = all.iter().filter_map(|id| known.get(id)).copied().collect();
        let current = Group::all_member_ids(conn, group)?;
        let drop: Vec<i64> = current.into_iter().filter(|u| !keep.contains(u)).collect();
        removed.extend(Group::remove_members(conn, group, &drop)?);
    }
    let to_remove: Vec<String> = changes.remove.iter().cloned().collect();
    // Removing someone who is not (or no longer) here is not an error: Entra retries.
    let remove_ids: Vec<i64> = Group::resolve_members(conn, company, &to_remove)?.into_values().collect();
    removed.extend(Group::remove_members(conn, group, &remove_ids)?);
    let add_ids: Vec<i64> = changes.add.iter().chain(changes.replace_all.iter().flatten()).filter_map(|id| known.get(id)).copied().collect();
    let added = Group::add_members(conn, group, &add_ids)?;
    grant_mapped(conn, company, group, &added)?;
    Assignment::revoke_source(conn, company, Who::Only(&removed), &source_key(group.id), None)?;
    Ok(format!("; members: {} added, {} removed", added.len(), removed.len()))
}

/// Gives `user_ids` what the group's mappings grant.
pub fn grant_mapped(conn: &mut AnyConnection, company: CompanyId, group: &Group, user_ids: &[i64]) -> Result<(), ProvisioningError> {
    if user_ids.is_empty() {
        return Ok(());
    }
    for mapping in Group::mappings(conn, group.id)? {
        let role = Role::parse(&mapping.role).unwrap_or(Role::ContentCreator);
        for user in user_ids {
            Assignment::grant(conn, company, *user, &[mapping.passle_id], role, &source_key(group.id))?;
        }
    }
    Ok(())
}

fn record(conn: &mut AnyConnection, company: CompanyId, operation: &str, group: &Group, status: i32, detail: String) -> Result<(), ProvisioningError> {
    let mut event = NewActivity::new(company, ENTRA, operation, "Group");
    event.resource_id = Some(group.scim_id.clone());
    event.subject = Some(group.display_name.clone());
    event.status = status;
    event.detail = detail;
    event.insert(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_operations_win_over_earlier_ones() {
        let mut changes = MemberChanges::default();
        changes.add("a".into());
        changes.remove("a".into());
        changes.add("b".into());
        assert!(changes.add.contains("b") && !changes.add.contains("a"));
        assert!(changes.remove.contains("a"));
        changes.replace(["c".to_owned()].into());
        assert!(changes.add.is_empty() && changes.remove.is_empty());
        changes.add("d".into());
        assert_eq!(changes.replace_all, Some(["c".to_owned()].into()));
        assert!(changes.add.contains("d"));
        changes.remove("c".into());
        assert_eq!(changes.replace_all, Some(Default::default()), "a later remove wins over the replace");
    }
}
