//! SCIM groups of a company, their members and their Passle mappings. Membership changes are
//! set-based: adding 5 members inserts 5 rows, whatever the group's size.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::CompanyId;
use crate::db::AnyConnection;
use crate::db::schema::{group_mappings, group_members, groups, users};
use crate::domain::new_scim_id;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = groups)]
pub struct Group {
    pub id: i64,
    pub company_id: i64,
    pub scim_id: String,
    pub display_name: String,
    pub display_name_lower: String,
    pub external_id: Option<String>,
    pub external_id_lower: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
}

/// A member as a group resource lists it.
#[derive(Debug, Clone)]
pub struct MemberRef {
    pub user_id: i64,
    pub scim_id: String,
    pub display: String,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = group_mappings)]
pub struct GroupMapping {
    pub id: i64,
    pub company_id: i64,
    pub group_id: i64,
    pub passle_id: i64,
    pub role: String,
    pub created_at: NaiveDateTime,
}

impl Group {
    pub fn insert(conn: &mut AnyConnection, company: CompanyId, display_name: &str, external_id: Option<&str>) -> QueryResult<Group> {
        let now = super::now();
        diesel::insert_into(groups::table)
            .values((
                groups::company_id.eq(company.0),
                groups::scim_id.eq(new_scim_id()),
                groups::display_name.eq(display_name),
                groups::display_name_lower.eq(display_name.to_lowercase()),
                groups::external_id.eq(external_id),
                groups::external_id_lower.eq(external_id.map(str::to_lowercase)),
                groups::created_at.eq(now),
                groups::updated_at.eq(now),
                groups::version.eq(1i64),
            ))
            .returning(groups::all_columns)
            .get_result(conn)
    }

    pub fn find_by_scim_id(conn: &mut AnyConnection, company: CompanyId, scim_id: &str) -> QueryResult<Option<Group>> {
        groups::table
            .filter(groups::company_id.eq(company.0))
            .filter(groups::scim_id.eq(scim_id))
            .select(Group::as_select())
            .first(conn)
            .optional()
    }

    pub fn find(conn: &mut AnyConnection, company: CompanyId, id: i64) -> QueryResult<Option<Group>> {
        groups::table.filter(groups::company_id.eq(company.0)).filter(groups::id.eq(id)).select(Group::as_select()).first(conn).optional()
    }

    /// Sets name and externalId and bumps the version (also on membership-only changes, so the
    /// ETag changes with the members).
    pub fn update(conn: &mut AnyConnection, group: &Group, display_name: &str, external_id: Option<&str>) -> QueryResult<Group> {
        diesel::update(groups::table.find(group.id))
            .set((
                groups::display_name.eq(display_name),
                groups::display_name_lower.eq(display_name.to_lowercase()),
                groups::external_id.eq(external_id),
                groups::external_id_lower.eq(external_id.map(str::to_lowercase)),
                groups::updated_at.eq(super::now()),
                groups::version.eq(groups::version + 1),
            ))
            .returning(groups::all_columns)
            .get_result(conn)
    }

    pub fn delete(conn: &mut AnyConnection, group: &Group) -> QueryResult<usize> {
        diesel::delete(groups::table.find(group.id)).execute(conn)
    }

    /// A page of groups matching `filter` (SQL from `scim::query`), with the total.
    pub fn search(conn: &mut AnyConnection, company: CompanyId, filter: Option<crate::db::sql::Sql>, offset: i64, limit: i64) -> QueryResult<(i64, Vec<Group>)> {
        let base = || {
            let mut q = groups::table.filter(groups::company_id.eq(company.0)).into_boxed();
            if let Some(f) = filter.clone() {
                q = q.filter(f.typed::<diesel::sql_types::Bool>());
            }
            q
        };
        let rows: Vec<Group> =
            if limit == 0 { Vec::new() } else { base().select(Group::as_select()).order(groups::id).offset(offset).limit(limit).load(conn)? };
        let total = if offset == 0 && (rows.len() as i64) < limit { rows.len() as i64 } else { base().count().get_result(conn)? };
        Ok((total, rows))
    }

    pub fn list(conn: &mut AnyConnection, company: CompanyId) -> QueryResult<Vec<Group>> {
        groups::table.filter(groups::company_id.eq(company.0)).order(groups::display_name_lower).select(Group::as_select()).load(conn)
    }

    /// Members of each of `group_ids`, in membership order.
    pub fn members(conn: &mut AnyConnection, group_ids: &[i64]) -> QueryResult<HashMap<i64, Vec<MemberRef>>> {
        let rows: Vec<(i64, i64, String, Option<String>, String)> = group_members::table
            .inner_join(users::table)
            .filter(group_members::group_id.eq_any(group_ids))
            // Deprovisioned people are gone for SCIM; their membership rows are kept.
            .filter(users::deprovisioned_at.is_null())
            .order((group_members::group_id, group_members::created_at, users::id))
            .select((group_members::group_id, users::id, users::scim_id, users::display_name, users::user_name))
            .load(conn)?;
        let mut out: HashMap<i64, Vec<MemberRef>> = HashMap::new();
        for (group_id, user_id, scim_id, display, user_name) in rows {
            out.entry(group_id).or_default().push(MemberRef { user_id, scim_id, display: display.unwrap_or(user_name) });
        }
        Ok(out)
    }

    pub fn member_counts(conn: &mut AnyConnection, company: CompanyId) -> QueryResult<HashMap<i64, i64>> {
        let rows: Vec<(i64, i64)> = group_members::table
            .inner_join(users::table)
            .filter(group_members::company_id.eq(company.0))
            .filter(users::deprovisioned_at.is_null())
            .group_by(group_members::group_id)
            .select((group_members::group_id, diesel::dsl::count_star()))
            .load(conn)?;
        Ok(rows.into_iter().collect())
    }

    /// The company's people with these SCIM ids (deprovisioned ones excluded): id by SCIM id.
    pub fn resolve_members(conn: &mut AnyConnection, company: CompanyId, scim_ids: &[String]) -> QueryResult<HashMap<String, i64>> {
        let rows: Vec<(String, i64)> = users::table
            .filter(users::company_id.eq(company.0))
            .filter(users::deprovisioned_at.is_null())
            .filter(users::scim_id.eq_any(scim_ids))
            .select((users::scim_id, users::id))
            .load(conn)?;
        Ok(rows.into_iter().collect())
    }

    /// Adds memberships that do not exist yet; returns the user ids actually added.
    pub fn add_members(conn: &mut AnyConnection, group: &Group, user_ids: &[i64]) -> QueryResult<Vec<i64>> {
        let existing: Vec<i64> = group_members::table
            .filter(group_members::group_id.eq(group.id))
            .filter(group_members::user_id.eq_any(user_ids))
            .select(group_members::user_id)
            .load(conn)?;
        let now = super::now();
        let mut added = Vec::new();
        for user_id in user_ids.iter().copied().filter(|u| !existing.contains(u)) {
            let row = (
                group_members::group_id.eq(group.id),
                group_members::user_id.eq(user_id),
                group_members::company_id.eq(group.company_id),
                group_members::created_at.eq(now),
            );
            // A concurrent request may have added the same member: that is not an error.
            let inserted = crate::per_backend!(conn, c => diesel::insert_into(group_members::table).values(row).on_conflict_do_nothing().execute(c))?;
            if inserted > 0 {
                added.push(user_id);
            }
        }
        Ok(added)
    }

    /// Removes these memberships; returns the user ids actually removed.
    pub fn remove_members(conn: &mut AnyConnection, group: &Group, user_ids: &[i64]) -> QueryResult<Vec<i64>> {
        let present: Vec<i64> = group_members::table
            .filter(group_members::group_id.eq(group.id))
            .filter(group_members::user_id.eq_any(user_ids))
            .select(group_members::user_id)
            .load(conn)?;
        diesel::delete(group_members::table.filter(group_members::group_id.eq(group.id)).filter(group_members::user_id.eq_any(&present))).execute(conn)?;
        Ok(present)
    }

    pub fn all_member_ids(conn: &mut AnyConnection, group: &Group) -> QueryResult<Vec<i64>> {
        group_members::table.filter(group_members::group_id.eq(group.id)).select(group_members::user_id).load(conn)
    }

    /// The groups each of `user_ids` belongs to: (user id, group SCIM id, displayName).
    pub fn of_users(conn: &mut AnyConnection, user_ids: &[i64]) -> QueryResult<Vec<(i64, String, String)>> {
        crate::per_backend!(conn, c => {
            let query = || {
                group_members::table
                    .inner_join(groups::table)
                    .order((group_members::user_id, groups::display_name_lower))
                    .select((group_members::user_id, groups::scim_id, groups::display_name))
            };
            // `= ?` for one person: a statement that stays prepared (see `User::assemble`).
            match user_ids {
                [id] => query().filter(group_members::user_id.eq(*id)).load(c),
                _ => query().filter(group_members::user_id.eq_any(user_ids)).load(c),
            }
        })
    }

    pub fn mappings(conn: &mut AnyConnection, group_id: i64) -> QueryResult<Vec<GroupMapping>> {
        group_mappings::table.filter(group_mappings::group_id.eq(group_id)).order(group_mappings::passle_id).select(GroupMapping::as_select()).load(conn)
    }

    pub fn add_mapping(conn: &mut AnyConnection, group: &Group, passle_id: i64, role: &str) -> QueryResult<usize> {
        diesel::insert_into(group_mappings::table)
            .values((
                group_mappings::company_id.eq(group.company_id),
                group_mappings::group_id.eq(group.id),
                group_mappings::passle_id.eq(passle_id),
                group_mappings::role.eq(role),
                group_mappings::created_at.eq(super::now()),
            ))
            .execute(conn)
    }

    pub fn remove_mapping(conn: &mut AnyConnection, group: &Group, mapping_id: i64) -> QueryResult<Option<GroupMapping>> {
        let mapping = group_mappings::table
            .filter(group_mappings::group_id.eq(group.id))
            .filter(group_mappings::id.eq(mapping_id))
            .select(GroupMapping::as_select())
            .first(conn)
            .optional()?;
        if let Some(m) = &mapping {
            diesel::delete(group_mappings::table.find(m.id)).execute(conn)?;
        }
        Ok(mapping)
    }
}
