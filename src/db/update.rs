//! UPDATE statements the connection keeps prepared.
//!
//! Diesel never caches an `UpdateStatement` (a changeset of `Option`s may skip fields, so
//! one Rust type can stand for several SQL texts): every UPDATE was parsed and planned anew,
//! ~18% of the SQLite writer's time in an Entra incremental cycle. [`cached_update`] renders
//! the same SQL and lets diesel's statement cache key it by its text, which stays correct
//! whatever the changeset skips.

use diesel::backend::Backend;
use diesel::query_builder::{AsChangeset, AstPass, QueryFragment, QueryId};
use diesel::Table;

/// `UPDATE table SET changeset WHERE condition`.
pub struct CachedUpdate<F, V, W> {
    target: F,
    changeset: V,
    condition: W,
}

/// Updates the rows of `table` where `condition` holds, with `changeset`.
pub fn cached_update<T, V, W>(table: T, changeset: V, condition: W) -> CachedUpdate<T::FromClause, V::Changeset, W>
where
    T: Table,
    V: AsChangeset<Target = T>,
{
    CachedUpdate { target: table.from_clause(), changeset: changeset.as_changeset(), condition }
}

impl<F, V, W, DB> QueryFragment<DB> for CachedUpdate<F, V, W>
where
    DB: Backend,
    F: QueryFragment<DB>,
    V: QueryFragment<DB>,
    W: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
        out.push_sql("UPDATE ");
        self.target.walk_ast(out.reborrow())?;
        out.push_sql(" SET ");
        self.changeset.walk_ast(out.reborrow())?;
        out.push_sql(" WHERE ");
        self.condition.walk_ast(out.reborrow())
    }
}

/// No static id: the statement cache keys it by its SQL text.
impl<T, V, W> QueryId for CachedUpdate<T, V, W> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<T, V, W, C> diesel::RunQueryDsl<C> for CachedUpdate<T, V, W> {}
