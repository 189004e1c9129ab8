//! The database's own plan for a query, as text: lets tests check that a query whose cost
//! would otherwise grow with a company's history is answered from an index.

use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::row::NamedRow;
use diesel::sql_types::{Text, Untyped};
use diesel::{QueryResult, QueryableByName, RunQueryDsl};

use super::{AnyConnection, MultiBackend};

/// `EXPLAIN QUERY PLAN` (SQLite) or `EXPLAIN` (PostgreSQL) of a query as the application
/// sends it, binds included: one line per plan step.
pub fn query_plan<Q: QueryFragment<MultiBackend>>(conn: &mut AnyConnection, query: Q) -> QueryResult<Vec<String>> {
    let prefix = match conn {
        AnyConnection::Sqlite(_) => "EXPLAIN QUERY PLAN ",
        AnyConnection::Postgresql(_) => "EXPLAIN ",
    };
    let steps: Vec<PlanStep> = Explain { prefix, query }.load(conn)?;
    Ok(steps.into_iter().map(|s| s.0).collect())
}

struct Explain<Q> {
    prefix: &'static str,
    query: Q,
}

impl<Q> QueryId for Explain<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> Query for Explain<Q> {
    type SqlType = Untyped;
}

impl<Q: QueryFragment<MultiBackend>> QueryFragment<MultiBackend> for Explain<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        out.unsafe_to_cache_prepared();
        out.push_sql(self.prefix);
        self.query.walk_ast(out.reborrow())
    }
}

impl<Q> RunQueryDsl<AnyConnection> for Explain<Q> {}

/// One step: SQLite's `detail` column, or a line of PostgreSQL's `QUERY PLAN`.
struct PlanStep(String);

impl QueryableByName<MultiBackend> for PlanStep {
    fn build<'a>(row: &impl NamedRow<'a, MultiBackend>) -> diesel::deserialize::Result<Self> {
        let step = NamedRow::get::<Text, String>(row, "detail").or_else(|_| NamedRow::get::<Text, String>(row, "QUERY PLAN"))?;
        Ok(PlanStep(step))
    }
}
