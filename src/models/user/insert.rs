//! The INSERT of a person's `users` row, optionally only when the company has nobody a create
//! must link to instead.
//!
//! Entra creates someone new far more often than someone the company already has. On
//! PostgreSQL a create checks for those people (same userName or email, or a deprovisioned
//! person who had this userName) in its INSERT, `INSERT … SELECT … WHERE NOT EXISTS (…)`, which
//! saves the round trip of a separate query (`one_trip` wraps this statement). Nothing
//! inserted means someone matched; the caller then looks at who
//! ([`User::find_create_candidates`](super::User::find_create_candidates)). SQLite asks that
//! query first instead: see `User::insert_unless_known`.

use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};
use diesel::sqlite::Sqlite;

use super::{DetailColumns, IdentityColumns};
use crate::db::schema::users;

/// `INSERT INTO users … RETURNING` every column, of a new person with version 1.
pub(super) struct InsertPerson<'a> {
    pub(super) company_id: i64,
    pub(super) scim_id: String,
    pub(super) identity: IdentityColumns,
    pub(super) details: DetailColumns,
    pub(super) source: &'a str,
    pub(super) role: Option<&'a str>,
    pub(super) job_title: Option<&'a str>,
    pub(super) now: NaiveDateTime,
    /// Insert nothing when the company has a person with this userName or email, or a
    /// deprovisioned person who had this userName.
    pub(super) unless_known: bool,
}

const COLUMNS: &str = r#"INSERT INTO "users" ("company_id", "scim_id", "user_name", "user_name_lower", "external_id", "external_id_lower", "email", "email_lower", "display_name", "given_name", "family_name", "title", "preferred_language", "manager_id", "scim_active", "scim_values", "source", "role", "job_title", "created_at", "updated_at", "version") SELECT "#;

/// The same body for both backends (diesel binds through each backend's own types).
macro_rules! walk_insert_person {
    ($($db:ty),*) => {$(
        impl QueryFragment<$db> for InsertPerson<'_> {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, $db>) -> diesel::QueryResult<()> {
                let (identity, details) = (&self.identity, &self.details);
                out.push_sql(COLUMNS);
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
                if self.unless_known {
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
                diesel::query_builder::QueryFragment::<$db>::walk_ast(&users::all_columns, out.reborrow())
            }
        }
    )*};
}

walk_insert_person!(Pg, Sqlite);

impl Query for InsertPerson<'_> {
    type SqlType = users::SqlType;
}

/// No static id: the statement cache keys it by its SQL text (one with the check, one without).
impl QueryId for InsertPerson<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::RunQueryDsl<diesel::PgConnection> for InsertPerson<'_> {}
impl diesel::RunQueryDsl<diesel::SqliteConnection> for InsertPerson<'_> {}
