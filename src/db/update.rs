//! UPDATE statements the connection keeps prepared.
//!
//! Diesel never caches an `UpdateStatement` (a changeset of `Option`s may skip fields, so
//! one Rust type can stand for several SQL texts): every UPDATE was parsed and planned anew,
//! ~18% of the SQLite writer's time in an Entra incremental cycle. [`cached_update`] renders
//! the same SQL for changesets that never skip a field ([`FixedChangeset`]), so its type
//! identifies its text: diesel's statement cache finds the prepared statement by type,
//! without rendering the SQL to look it up.

use diesel::backend::Backend;
use diesel::query_builder::{AsChangeset, AstPass, QueryFragment, QueryId};
use std::marker::PhantomData;

use diesel::Table;

/// A changeset that always renders the same SQL: every field is set, `None` is written as NULL
/// (derive `AsChangeset` with `treat_none_as_null = true`, and no `Option` of a changeset).
/// Implemented by hand for each such type, next to its definition: a changeset that could
/// skip a field would find another text's prepared statement. `Key` names the changeset's
/// type without its lifetimes (the statement cache keys statements by `'static` types).
pub trait FixedChangeset {
    type Key: 'static;
}

impl<T: FixedChangeset + ?Sized> FixedChangeset for &T {
    type Key = T::Key;
}
impl<A: FixedChangeset, B: FixedChangeset> FixedChangeset for (A, B) {
    type Key = (A::Key, B::Key);
}
impl<A: FixedChangeset, B: FixedChangeset, C: FixedChangeset> FixedChangeset for (A, B, C) {
    type Key = (A::Key, B::Key, C::Key);
}

/// `UPDATE table SET changeset WHERE condition`; `K`: the changeset's [`FixedChangeset::Key`].
pub struct CachedUpdate<T: Table, C, W, K> {
    target: T::FromClause,
    changeset: C,
    condition: W,
    key: PhantomData<fn() -> K>,
}

/// Updates the rows of `table` where `condition` holds, with `changeset`.
pub fn cached_update<T, V, W>(table: T, changeset: V, condition: W) -> CachedUpdate<T, V::Changeset, W, V::Key>
where
    T: Table,
    V: AsChangeset<Target = T> + FixedChangeset,
{
    CachedUpdate { target: table.from_clause(), changeset: changeset.as_changeset(), condition, key: PhantomData }
}

impl<T, C, W, K, DB> QueryFragment<DB> for CachedUpdate<T, C, W, K>
where
    DB: Backend,
    T: Table,
    T::FromClause: QueryFragment<DB>,
    C: QueryFragment<DB>,
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

/// The statement cache's key of a [`CachedUpdate`]: its table, changeset and condition types.
pub struct UpdateKey<T, K, W>(PhantomData<(T, K, W)>);

/// The text follows from the types (the changeset is a [`FixedChangeset`]).
impl<T: Table + 'static, C, W: QueryId, K: 'static> QueryId for CachedUpdate<T, C, W, K> {
    type QueryId = UpdateKey<T, K, W::QueryId>;
    const HAS_STATIC_QUERY_ID: bool = W::HAS_STATIC_QUERY_ID;
}

impl<T: Table, C, W, K, Conn> diesel::RunQueryDsl<Conn> for CachedUpdate<T, C, W, K> {}
