//! The provisioning activity log: every SCIM write and provisioning decision, per company.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::CompanyId;
use crate::db::AnyConnection;
use crate::db::schema::activity;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = activity)]
pub struct Activity {
    pub id: i64,
    pub company_id: i64,
    pub occurred_at: NaiveDateTime,
    pub actor: String,
    pub operation: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub user_id: Option<i64>,
    pub subject: Option<String>,
    pub outcome: String,
    pub status: i32,
    pub detail: String,
}

/// The rows of [`Activity::for_user_query`] before ordering and limit.
type ForUser = diesel::dsl::Select<
    diesel::dsl::Filter<activity::table, diesel::dsl::And<diesel::dsl::Eq<activity::company_id, i64>, diesel::dsl::Eq<activity::user_id, i64>>>,
    diesel::dsl::AsSelect<Activity, crate::db::MultiBackend>,
>;

/// One event to record. `detail` says what changed or why it failed, never secrets.
// `None` is NULL, not DEFAULT: one SQL text whatever is set, so the INSERT stays prepared.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = activity, treat_none_as_default_value = false)]
pub struct NewActivity {
    pub company_id: i64,
    pub occurred_at: NaiveDateTime,
    pub actor: String,
    pub operation: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub user_id: Option<i64>,
    pub subject: Option<String>,
    pub outcome: String,
    pub status: i32,
    pub detail: String,
}

impl NewActivity {
    pub fn new(company: CompanyId, actor: &str, operation: &str, resource_type: &str) -> NewActivity {
        NewActivity {
            company_id: company.0,
            occurred_at: super::now(),
            actor: actor.to_owned(),
            operation: operation.to_owned(),
            resource_type: resource_type.to_owned(),
            resource_id: None,
            user_id: None,
            subject: None,
            outcome: "success".to_owned(),
            status: 200,
            detail: String::new(),
        }
    }

    /// The event as one about the person `row`.
    pub fn about(mut self, row: &super::user::UserRow) -> NewActivity {
        self.resource_id = Some(row.scim_id.clone());
        self.user_id = Some(row.id);
        self.subject = Some(row.user_name.clone());
        self
    }

    pub fn insert(&self, conn: &mut AnyConnection) -> QueryResult<usize> {
        crate::per_backend!(conn, c => diesel::insert_into(activity::table).values(self).execute(c))
    }
}

/// Which events a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeFilter {
    All,
    Success,
    Failure,
}

impl Activity {
    /// Newest first; `before_id` pages backwards.
    pub fn list(
        conn: &mut AnyConnection,
        company: CompanyId,
        outcome: OutcomeFilter,
        before_id: Option<i64>,
        limit: i64,
    ) -> QueryResult<Vec<Activity>> {
        let mut query = activity::table
            .filter(activity::company_id.eq(company.0))
            .select(Activity::as_select())
            .into_boxed();
        match outcome {
            OutcomeFilter::All => {}
            OutcomeFilter::Success => query = query.filter(activity::outcome.eq("success")),
            OutcomeFilter::Failure => query = query.filter(is_failure()),
        }
        if let Some(before) = before_id {
            query = query.filter(activity::id.lt(before));
        }
        query.order(activity::id.desc()).limit(limit).load(conn)
    }

    /// This person's latest events, newest first (served by the `activity_user` index).
    pub fn for_user(conn: &mut AnyConnection, company: CompanyId, user_id: i64, limit: i64) -> QueryResult<Vec<Activity>> {
        Activity::for_user_query(company, user_id, limit).load(conn)
    }

    /// The query of [`Activity::for_user`], for [`crate::db::query_plan`] in tests.
    pub fn for_user_query(
        company: CompanyId,
        user_id: i64,
        limit: i64,
    ) -> diesel::dsl::Limit<diesel::dsl::Order<ForUser, diesel::dsl::Desc<activity::id>>> {
        activity::table
            .filter(activity::company_id.eq(company.0).and(activity::user_id.eq(user_id)))
            .select(Activity::as_select())
            .order(activity::id.desc())
            .limit(limit)
    }

    /// Failures recorded after `since` (all of them when `None`).
    pub fn failures_since(conn: &mut AnyConnection, company: CompanyId, since: Option<NaiveDateTime>) -> QueryResult<i64> {
        let mut query = activity::table
            .filter(activity::company_id.eq(company.0))
            .filter(is_failure())
            .into_boxed();
        if let Some(since) = since {
            query = query.filter(activity::occurred_at.gt(since));
        }
        query.count().get_result(conn)
    }
}

/// `outcome = 'failure'` written out, not bound: only then can SQLite's and PostgreSQL's
/// planners use the partial index of failures (`activity_company_failures`), whose predicate
/// they must prove when they plan the statement, before any value is bound.
fn is_failure() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql::<diesel::sql_types::Bool>(r#""activity"."outcome" = 'failure'"#)
}
