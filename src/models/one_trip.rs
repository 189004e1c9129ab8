//! PostgreSQL statements that make a whole SCIM write in one round trip.
//!
//! Creating a person writes their `users` row, their lookup rows and the activity event about
//! them; a PATCH updates the row, the lookup rows that changed and records an event. As
//! separate statements that is 3 to 5 round trips inside the transaction, and PostgreSQL's own
//! per-statement work (protocol, snapshot, executor start-up) was most of its CPU under an
//! Entra cycle. Here each write is one statement: data-modifying CTEs that all see the new or
//! updated row, so the lookups and the event are written if and only if the person is.
//! Lookup rows travel as parallel arrays (`unnest`): the SQL text is the same however many
//! there are, so the statement stays prepared (a multi-row `VALUES` was planned anew each time).
//!
//! SQLite runs the same writes statement by statement: it has no round trips to save.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Timestamp};

use super::activity::NewActivity;
use super::user::LookupRow;
use crate::db::schema::users;

/// Lookup rows as one array per column (the person's id and company come from the statement).
#[derive(Default)]
pub(super) struct LookupArrays {
    attribute: Vec<String>,
    position: Vec<i32>,
    value_lower: Vec<Option<String>>,
    type_: Vec<Option<String>>,
    is_primary: Vec<Option<bool>>,
    display: Vec<Option<String>>,
}

impl LookupArrays {
    pub(super) fn of(rows: impl IntoIterator<Item = LookupRow>) -> LookupArrays {
        let mut arrays = LookupArrays::default();
        for row in rows {
            arrays.attribute.push(row.attribute);
            arrays.position.push(row.position);
            arrays.value_lower.push(row.value_lower);
            arrays.type_.push(row.type_);
            arrays.is_primary.push(row.is_primary);
            arrays.display.push(row.display);
        }
        arrays
    }

    /// `INSERT INTO user_lookups … SELECT … FROM {person}, unnest(…)`: `person` is the CTE that
    /// holds the person's `id` and `company_id`.
    fn walk_insert<'b>(&'b self, person: &str, mut out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        out.push_sql(&format!(
            r#"INSERT INTO "user_lookups" ("user_id", "attribute", "position", "company_id", "value_lower", "type", "is_primary", "display") SELECT {person}.id, x.attribute, x.position, {person}.company_id, x.value_lower, x.type, x.is_primary, x.display FROM {person}, unnest("#
        ));
        binds!(out;
            Array<Text> => &self.attribute,
            Array<Integer> => &self.position,
            Array<Nullable<Text>> => &self.value_lower,
            Array<Nullable<Text>> => &self.type_,
            Array<Nullable<Bool>> => &self.is_primary,
            Array<Nullable<Text>> => &self.display,
        );
        out.push_sql(") AS x(attribute, position, value_lower, type, is_primary, display)");
        Ok(())
    }
}

/// `INSERT INTO activity … SELECT … FROM {person}`: the event is about the person of the CTE
/// `person` (its `scim_id`, `id` and `user_name`), whatever `event` says of them.
fn walk_event<'b>(event: &'b NewActivity, person: &str, mut out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
    out.push_sql(
        r#"INSERT INTO "activity" ("company_id", "occurred_at", "actor", "operation", "resource_type", "outcome", "status", "detail", "resource_id", "user_id", "subject") SELECT "#,
    );
    binds!(out;
        BigInt => &event.company_id,
        Timestamp => &event.occurred_at,
        Text => &event.actor,
        Text => &event.operation,
        Text => &event.resource_type,
        Text => &event.outcome,
        Integer => &event.status,
        Text => &event.detail,
    );
    out.push_sql(&format!(", {person}.scim_id, {person}.id, {person}.user_name FROM {person}"));
    Ok(())
}

/// Inserts a person (`insert`: the `users` INSERT … RETURNING every column), their lookup rows
/// and `event`; returns the new row.
pub(super) struct CreatePerson<'a, I> {
    pub(super) insert: I,
    pub(super) lookups: LookupArrays,
    pub(super) event: &'a NewActivity,
}

impl<I: QueryFragment<Pg>> QueryFragment<Pg> for CreatePerson<'_, I> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        out.push_sql("WITH u AS (");
        self.insert.walk_ast(out.reborrow())?;
        out.push_sql("), l AS (");
        self.lookups.walk_insert("u", out.reborrow())?;
        out.push_sql("), a AS (");
        walk_event(self.event, "u", out.reborrow())?;
        out.push_sql(") SELECT * FROM u");
        Ok(())
    }
}

impl<I> Query for CreatePerson<'_, I> {
    type SqlType = users::SqlType;
}

/// Updates a person if their version is still the one read (`update`: the `users` UPDATE with
/// that condition), then, only if it applied, upserts the lookup rows that changed or were
/// added, deletes those removed and records `event`. Returns how many people were updated
/// (0: someone else changed the person first, and nothing was written).
pub(super) struct UpdatePerson<'a, U> {
    pub(super) update: U,
    pub(super) upserts: LookupArrays,
    pub(super) removed: (Vec<String>, Vec<i32>),
    pub(super) event: &'a NewActivity,
}

impl<U: QueryFragment<Pg>> QueryFragment<Pg> for UpdatePerson<'_, U> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        out.push_sql("WITH p AS (");
        self.update.walk_ast(out.reborrow())?;
        out.push_sql(r#" RETURNING "users"."id", "users"."company_id", "users"."scim_id", "users"."user_name"), gone AS (DELETE FROM "user_lookups" USING p, unnest("#);
        binds!(out; Array<Text> => &self.removed.0, Array<Integer> => &self.removed.1);
        out.push_sql(
            r#") AS r(attribute, position) WHERE "user_lookups"."user_id" = p.id AND "user_lookups"."attribute" = r.attribute AND "user_lookups"."position" = r.position), put AS ("#,
        );
        self.upserts.walk_insert("p", out.reborrow())?;
        out.push_sql(
            r#" ON CONFLICT ("user_id", "attribute", "position") DO UPDATE SET "value_lower" = EXCLUDED."value_lower", "type" = EXCLUDED."type", "is_primary" = EXCLUDED."is_primary", "display" = EXCLUDED."display"), a AS ("#,
        );
        walk_event(self.event, "p", out.reborrow())?;
        out.push_sql(") SELECT count(*) FROM p");
        Ok(())
    }
}

impl<U> Query for UpdatePerson<'_, U> {
    type SqlType = BigInt;
}

/// Their SQL text follows from the type of the statement inside: the statement cache finds
/// them by type.
macro_rules! identified_by_inner {
    ($($name:ident),*) => {$(
        impl<T: QueryId> QueryId for $name<'_, T> {
            type QueryId = $name<'static, T::QueryId>;
            const HAS_STATIC_QUERY_ID: bool = T::HAS_STATIC_QUERY_ID;
        }
        impl<T> diesel::RunQueryDsl<diesel::PgConnection> for $name<'_, T> {}
    )*};
}

identified_by_inner!(CreatePerson, UpdatePerson);
