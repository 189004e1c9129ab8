//! Passle assignments: a person's role on a Passle, and where it came from (`manual`,
//! `configuration` for the company's user configuration, `group:<id>` for a group mapping).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::CompanyId;
use crate::db::AnyConnection;
use crate::db::schema::{passle_assignments, passles};
use crate::domain::Role;

/// Whose assignments a revocation removes. Explicit, so that an empty list can never mean
/// "everyone".
#[derive(Debug, Clone, Copy)]
pub enum Who<'a> {
    Everyone,
    Only(&'a [i64]),
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = passle_assignments)]
pub struct Assignment {
    pub id: i64,
    pub company_id: i64,
    pub user_id: i64,
    pub passle_id: i64,
    pub role: String,
    pub source: String,
    pub created_at: NaiveDateTime,
}

impl Assignment {
    /// Assigns `user_id` to each of `passle_ids` (the company's own only) with `role`, from
    /// `source`. Existing identical assignments are left alone.
    pub fn grant(
        conn: &mut AnyConnection,
        company: CompanyId,
        user_id: i64,
        passle_ids: &[i64],
        role: Role,
        source: &str,
    ) -> QueryResult<usize> {
        let owned: Vec<i64> = passles::table
            .filter(passles::company_id.eq(company.0))
            .filter(passles::id.eq_any(passle_ids))
            .select(passles::id)
            .load(conn)?;
        let existing: Vec<i64> = passle_assignments::table
            .filter(passle_assignments::user_id.eq(user_id))
            .filter(passle_assignments::source.eq(source))
            .select(passle_assignments::passle_id)
            .load(conn)?;
        let now = super::now();
        let mut added = 0;
        for passle_id in owned.into_iter().filter(|p| !existing.contains(p)) {
            added += diesel::insert_into(passle_assignments::table)
                .values((
                    passle_assignments::company_id.eq(company.0),
                    passle_assignments::user_id.eq(user_id),
                    passle_assignments::passle_id.eq(passle_id),
                    passle_assignments::role.eq(role.as_str()),
                    passle_assignments::source.eq(source),
                    passle_assignments::created_at.eq(now),
                ))
                .execute(conn)?;
        }
        Ok(added)
    }

    pub fn for_user(conn: &mut AnyConnection, company: CompanyId, user_id: i64) -> QueryResult<Vec<Assignment>> {
        passle_assignments::table
            .filter(passle_assignments::company_id.eq(company.0))
            .filter(passle_assignments::user_id.eq(user_id))
            .order((passle_assignments::passle_id, passle_assignments::source))
            .select(Assignment::as_select())
            .load(conn)
    }

    /// Removes the assignments of `user_id` from `source` on Passles not in `keep`.
    pub fn revoke_except(conn: &mut AnyConnection, company: CompanyId, user_id: i64, source: &str, keep: &[i64]) -> QueryResult<usize> {
        diesel::delete(
            passle_assignments::table
                .filter(passle_assignments::company_id.eq(company.0))
                .filter(passle_assignments::user_id.eq(user_id))
                .filter(passle_assignments::source.eq(source))
                .filter(passle_assignments::passle_id.ne_all(keep)),
        )
        .execute(conn)
    }

    /// Sets the role of a person's assignments from `source` (their own role changed).
    pub fn set_role(conn: &mut AnyConnection, company: CompanyId, user_id: i64, source: &str, role: Role) -> QueryResult<usize> {
        diesel::update(
            passle_assignments::table
                .filter(passle_assignments::company_id.eq(company.0))
                .filter(passle_assignments::user_id.eq(user_id))
                .filter(passle_assignments::source.eq(source)),
        )
        .set(passle_assignments::role.eq(role.as_str()))
        .execute(conn)
    }

    /// Removes the assignments from `source` of `who` (on one Passle, or on all).
    pub fn revoke_source(conn: &mut AnyConnection, company: CompanyId, who: Who<'_>, source: &str, passle: Option<i64>) -> QueryResult<usize> {
        let mut query = diesel::delete(passle_assignments::table)
            .filter(passle_assignments::company_id.eq(company.0))
            .filter(passle_assignments::source.eq(source))
            .into_boxed();
        match who {
            Who::Everyone => {}
            Who::Only([]) => return Ok(0),
            Who::Only(ids) => query = query.filter(passle_assignments::user_id.eq_any(ids)),
        }
        if let Some(passle) = passle {
            query = query.filter(passle_assignments::passle_id.eq(passle));
        }
        query.execute(conn)
    }

    /// Number of distinct Passles each of `user_ids` is assigned to.
    pub fn passle_counts(conn: &mut AnyConnection, company: CompanyId, user_ids: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
        use diesel::dsl::count;
        passle_assignments::table
            .filter(passle_assignments::company_id.eq(company.0))
            .filter(passle_assignments::user_id.eq_any(user_ids))
            .group_by(passle_assignments::user_id)
            .select((passle_assignments::user_id, count(passle_assignments::passle_id).aggregate_distinct()))
            .load(conn)
    }
}
