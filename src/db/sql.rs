//! A small dynamic SQL fragment for queries whose shape comes from a request (SCIM filters and
//! sorting). Structure is written from fixed strings chosen by our code, never from input;
//! every value is a bound parameter, so diesel renders the right placeholders per backend.

use std::borrow::Cow;
use std::marker::PhantomData;

use chrono::NaiveDateTime;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping, is_aggregate};
use diesel::backend::Backend;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types;

use super::connection::MultiBackend;

#[derive(Debug, Clone, PartialEq)]
pub enum Sql {
    /// SQL text from our own code (column names, operators, keywords).
    Raw(Cow<'static, str>),
    Text(String),
    Int(i64),
    Bool(bool),
    Timestamp(NaiveDateTime),
    Seq(Vec<Sql>),
    /// A fragment written for each backend (JSON functions differ): only the concrete
    /// SQLite and PostgreSQL connections can run it, not `MultiBackend`.
    PerBackend(Box<(Sql, Sql)>),
}

impl Sql {
    pub fn raw(text: &'static str) -> Sql {
        Sql::Raw(Cow::Borrowed(text))
    }

    /// SQL text assembled by our code from fixed pieces (never from input).
    pub fn raw_owned(text: String) -> Sql {
        Sql::Raw(Cow::Owned(text))
    }

    pub fn seq(parts: impl IntoIterator<Item = Sql>) -> Sql {
        Sql::Seq(parts.into_iter().collect())
    }

    /// `sqlite` on SQLite, `postgres` on PostgreSQL.
    pub fn per_backend(sqlite: Sql, postgres: Sql) -> Sql {
        Sql::PerBackend(Box::new((sqlite, postgres)))
    }

    /// This fragment as a typed diesel expression (`Bool` for filters, `Text` for ordering).
    pub fn typed<ST>(self) -> SqlExpr<ST> {
        SqlExpr(self, PhantomData)
    }
}

#[derive(Debug, Clone)]
pub struct SqlExpr<ST>(Sql, PhantomData<ST>);

impl<ST: diesel::expression::TypedExpressionType> Expression for SqlExpr<ST> {
    type SqlType = ST;
}

/// A backend [`Sql`] can be written for: `MultiBackend`, and SQLite and PostgreSQL
/// themselves, so hot queries can skip `MultiBackend`'s per-execution SQL rendering.
pub trait SqlBackend: Backend {
    fn walk<'b>(sql: &'b Sql, out: &mut AstPass<'_, 'b, Self>) -> diesel::QueryResult<()>;
}

macro_rules! sql_backend {
    ($($db:ty => $pick:expr),*) => {$(
        impl SqlBackend for $db {
            fn walk<'b>(sql: &'b Sql, out: &mut AstPass<'_, 'b, Self>) -> diesel::QueryResult<()> {
                match sql {
                    Sql::Raw(text) => out.push_sql(text),
                    Sql::Text(v) => out.push_bind_param::<sql_types::Text, String>(v)?,
                    Sql::Int(v) => out.push_bind_param::<sql_types::BigInt, i64>(v)?,
                    Sql::Bool(v) => out.push_bind_param::<sql_types::Bool, bool>(v)?,
                    Sql::Timestamp(v) => out.push_bind_param::<sql_types::Timestamp, NaiveDateTime>(v)?,
                    Sql::Seq(parts) => {
                        for part in parts {
                            Self::walk(part, out)?;
                        }
                    }
                    Sql::PerBackend(both) => {
                        let pick: fn(&(Sql, Sql)) -> Option<&Sql> = $pick;
                        let Some(part) = pick(both) else {
                            return Err(diesel::result::Error::QueryBuilderError(
                                "this SQL is written per backend: run it on the concrete connection".into(),
                            ));
                        };
                        Self::walk(part, out)?;
                    }
                }
                Ok(())
            }
        }
    )*};
}
sql_backend!(MultiBackend => |_| None, diesel::sqlite::Sqlite => |both| Some(&both.0), diesel::pg::Pg => |both| Some(&both.1));

impl<ST, DB: SqlBackend> QueryFragment<DB> for SqlExpr<ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
        DB::walk(&self.0, &mut out)
    }
}

impl<ST> QueryId for SqlExpr<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST, QS> AppearsOnTable<QS> for SqlExpr<ST> where Self: Expression {}
impl<ST, QS> SelectableExpression<QS> for SqlExpr<ST> where Self: Expression {}
impl<ST, GB> ValidGrouping<GB> for SqlExpr<ST> {
    type IsAggregate = is_aggregate::Never;
}
