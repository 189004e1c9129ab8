//! The INSERT of a person's `users` row, optionally only when the company has nobody a create
//! must link to instead.
//!
//! Entra creates someone new far more often than someone the company already has. On
//! PostgreSQL a create checks for those people (same userName or email, or a deprovisioned
//! person who had this userName) in its INSERT, `INSERT … SELECT … WHERE NOT EXISTS (…)`, which
//! saves the round trip of a separate query (`one_trip` wraps this statement). Nothing
//! inserted means someone matched; the caller then looks at who
//! ([`User::find_create_candidates`](super::User::find_create_candidates)). SQLite asks that
//! query first instead: see `User::insert_row`.
//!
//! On SQLite the statement is a plain `INSERT … VALUES` without `RETURNING`: an `INSERT …
//! SELECT` makes SQLite keep a statement journal (a copy of every page it touches) and
//! `RETURNING` collects its rows in a temporary table. The row is built from what was written
//! and the new id ([`InsertPerson::into_row`]).
//!
//! Both forms have a static query id (the check is part of the type): the statement cache
//! finds them without rendering their SQL.

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};
use diesel::sqlite::Sqlite;

use super::{DetailColumns, IdentityColumns, LookupRow, NewPerson, PersonColumns, UserRow};
use crate::models::CompanyId;
use crate::db::schema::users;

/// `INSERT INTO users … RETURNING` every column (PostgreSQL), of a new person with version 1
/// (SQLite runs it as [`InsertValues`]). `UNLESS_KNOWN` (PostgreSQL only): insert nothing
/// when the company has a person with this userName or email, or a deprovisioned person who
/// had this userName.
pub(super) struct InsertPerson<'a, const UNLESS_KNOWN: bool> {
    pub(super) company_id: i64,
    pub(super) scim_id: String,
    pub(super) identity: IdentityColumns,
    pub(super) details: DetailColumns,
    pub(super) source: &'a str,
    pub(super) role: Option<&'a str>,
    pub(super) job_title: Option<&'a str>,
    pub(super) now: NaiveDateTime,
}

const COLUMNS: &str = r#"INSERT INTO "users" ("company_id", "scim_id", "user_name", "user_name_lower", "external_id", "external_id_lower", "email", "email_lower", "display_name", "given_name", "family_name", "title", "preferred_language", "manager_id", "scim_active", "scim_values", "source", "role", "job_title", "created_at", "updated_at", "version") "#;

impl<'a, const UNLESS_KNOWN: bool> InsertPerson<'a, UNLESS_KNOWN> {
    /// The INSERT of `person`, and their lookup rows (without the person's id and company:
    /// the caller writes them once the person is).
    pub(super) fn new(company: CompanyId, person: NewPerson<'a>) -> (Self, Vec<LookupRow>) {
        let PersonColumns { scim_id, identity, details, lookups } = person.columns;
        let insert = InsertPerson {
            company_id: company.0,
            scim_id,
            identity,
            details,
            source: person.source,
            role: person.role,
            job_title: person.job_title,
            now: crate::models::now(),
        };
        (insert, lookups)
    }

    /// The row this INSERT wrote, given its new id (the columns it leaves out start NULL).
    pub(super) fn into_row(self, id: i64) -> UserRow {
        let IdentityColumns { user_name, user_name_lower, external_id, external_id_lower, email, email_lower } = self.identity;
        let DetailColumns { display_name, given_name, family_name, title, preferred_language, manager_id, scim_active, scim_values } = self.details;
        UserRow {
            id,
            company_id: self.company_id,
            scim_id: self.scim_id,
            user_name,
            user_name_lower,
            external_id,
            external_id_lower,
            email,
            email_lower,
            display_name,
            given_name,
            family_name,
            title,
            preferred_language,
            manager_id,
            scim_active,
            job_title: self.job_title.map(str::to_owned),
            role: self.role.map(str::to_owned),
            source: self.source.to_owned(),
            disabled_at: None,
            deprovisioned_at: None,
            created_at: self.now,
            updated_at: self.now,
            version: 1,
            deprovisioned_key: None,
            scim_values,
        }
    }
}

/// The column values, bound in `COLUMNS`' order (diesel binds through each backend's types).
macro_rules! walk_values {
    ($($db:ty => $fn:ident),*) => {$(
        impl<const UNLESS_KNOWN: bool> InsertPerson<'_, UNLESS_KNOWN> {
            fn $fn<'b>(&'b self, out: &mut AstPass<'_, 'b, $db>) -> diesel::QueryResult<()> {
                let (identity, details) = (&self.identity, &self.details);
                binds!(out;
                    BigInt => &self.company_id,
                    Text => &self.scim_id,
                    Text => &identity.user_name,
                    Text => &identity.user_name_lower,
                    Nullable<Text> => &identity.external_id,
                    Nullable<Text> => &identity.external_id_lower,
                    Nullable<Text> => &identity.email,
                    Nullable<Text> => &identity.email_lower,
                    Nullable<Text> => &details.display_name,
                    Nullable<Text> => &details.given_name,
                    Nullable<Text> => &details.family_name,
                    Nullable<Text> => &details.title,
                    Nullable<Text> => &details.preferred_language,
                    Nullable<Text> => &details.manager_id,
                    Nullable<Bool> => &details.scim_active,
                    Text => &details.scim_values,
                    Text => &self.source,
                    Nullable<Text> => &self.role,
                    Nullable<Text> => &self.job_title,
                    Timestamp => &self.now,
                    Timestamp => &self.now,
                    BigInt => &1i64,
                );
                Ok(())
            }
        }
    )*};
}

walk_values!(Pg => walk_values_pg, Sqlite => walk_values_sqlite);

impl<const UNLESS_KNOWN: bool> QueryFragment<Pg> for InsertPerson<'_, UNLESS_KNOWN> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        let identity = &self.identity;
        out.push_sql(COLUMNS);
        out.push_sql("SELECT ");
        self.walk_values_pg(&mut out)?;
        if UNLESS_KNOWN {
            // One index lookup each, as in `find_create_candidates`.
            out.push_sql(r#" WHERE NOT EXISTS (SELECT 1 FROM "users" AS "known" WHERE "known"."company_id" = "#);
            binds!(out; BigInt => &self.company_id);
            out.push_sql(r#" AND "known"."user_name_lower" = "#);
            binds!(out; Text => &identity.user_name_lower);
            out.push_sql(r#" UNION ALL SELECT 1 FROM "users" AS "known" WHERE "known"."company_id" = "#);
            binds!(out; BigInt => &self.company_id);
            out.push_sql(r#" AND "known"."email_lower" = "#);
            binds!(out; Nullable<Text> => &identity.email_lower);
            out.push_sql(r#" UNION ALL SELECT 1 FROM "users" AS "known" WHERE "known"."company_id" = "#);
            binds!(out; BigInt => &self.company_id);
            out.push_sql(r#" AND "known"."deprovisioned_key" = "#);
            binds!(out; Text => &identity.user_name_lower);
            out.push_sql(")");
        }
        out.push_sql(" RETURNING ");
        QueryFragment::<Pg>::walk_ast(&users::all_columns, out.reborrow())
    }
}

/// SQLite's form of the INSERT: `INSERT … VALUES`, nothing returned (it can only be
/// executed: SQLite never checks in the INSERT, see the module's documentation).
pub(super) struct InsertValues<'q, 'a>(pub(super) &'q InsertPerson<'a, false>);

impl QueryFragment<Sqlite> for InsertValues<'_, '_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> diesel::QueryResult<()> {
        out.push_sql(COLUMNS);
        out.push_sql("VALUES (");
        self.0.walk_values_sqlite(&mut out)?;
        out.push_sql(")");
        Ok(())
    }
}

impl QueryId for InsertValues<'_, '_> {
    type QueryId = InsertValues<'static, 'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::RunQueryDsl<diesel::SqliteConnection> for InsertValues<'_, '_> {}

impl<const UNLESS_KNOWN: bool> Query for InsertPerson<'_, UNLESS_KNOWN> {
    type SqlType = users::SqlType;
}

impl<const UNLESS_KNOWN: bool> QueryId for InsertPerson<'_, UNLESS_KNOWN> {
    type QueryId = InsertPerson<'static, UNLESS_KNOWN>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<const UNLESS_KNOWN: bool> diesel::RunQueryDsl<diesel::PgConnection> for InsertPerson<'_, UNLESS_KNOWN> {}

/// `SELECT last_insert_rowid()`: the id of the row the connection's last INSERT wrote.
pub(super) struct LastInsertRowid;

impl QueryFragment<Sqlite> for LastInsertRowid {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> diesel::QueryResult<()> {
        out.push_sql("SELECT last_insert_rowid()");
        Ok(())
    }
}

impl Query for LastInsertRowid {
    type SqlType = BigInt;
}

impl QueryId for LastInsertRowid {
    type QueryId = LastInsertRowid;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::RunQueryDsl<diesel::SqliteConnection> for LastInsertRowid {}
