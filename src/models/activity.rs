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

/// Most events one successes-only page looks through. Successes have no index apart from
/// failures (every successful write would pay for one), so a long run of failures, such as an
/// Entra job that retries every refused person each cycle, is looked through a stretch at a
/// time rather than all at once.
pub const SUCCESS_SEARCH_SPAN: i64 = 5_000;

/// One page of a company's events, newest first.
pub struct ActivityPage {
    pub events: Vec<Activity>,
    /// Where the next (older) page starts: `before_id` for [`Activity::page`].
    pub older: Option<i64>,
}

impl Activity {
    /// Up to `size` events older than `before_id` (the newest without it), and where the page
    /// after it starts. A successes-only page looks through [`SUCCESS_SEARCH_SPAN`] events at
    /// most, so it can hold fewer than `size` and still have older events after it.
    pub fn page(
        conn: &mut AnyConnection,
        company: CompanyId,
        outcome: OutcomeFilter,
        before_id: Option<i64>,
        size: i64,
    ) -> QueryResult<ActivityPage> {
        // The stretch a successes-only page looks through ends at the `SUCCESS_SEARCH_SPAN`th
        // older event; older events follow only if there is one more.
        let (floor, more) = match outcome {
            OutcomeFilter::Success => {
                let ids = Activity::newest_first(company, before_id)
                    .select(activity::id)
                    .offset(SUCCESS_SEARCH_SPAN - 1)
                    .limit(2)
                    .load::<i64>(conn)?;
                (ids.first().copied(), ids.len() == 2)
            }
            OutcomeFilter::All | OutcomeFilter::Failure => (None, false),
        };
        let mut query = Activity::newest_first(company, before_id);
        match outcome {
            OutcomeFilter::All => {}
            OutcomeFilter::Success => query = query.filter(activity::outcome.eq("success")),
            OutcomeFilter::Failure => query = query.filter(is_failure()),
        }
        if let Some(floor) = floor {
            query = query.filter(activity::id.ge(floor));
        }
        let mut events: Vec<Activity> = query.select(Activity::as_select()).limit(size + 1).load(conn)?;
        let older = if events.len() as i64 > size {
            events.truncate(size as usize);
            events.last().map(|e| e.id)
        } else {
            floor.filter(|_| more)
        };
        Ok(ActivityPage { events, older })
    }

    fn newest_first(company: CompanyId, before_id: Option<i64>) -> activity::BoxedQuery<'static, crate::db::MultiBackend> {
        let query = activity::table.filter(activity::company_id.eq(company.0)).order(activity::id.desc()).into_boxed();
        match before_id {
            Some(before) => query.filter(activity::id.lt(before)),
            None => query,
        }
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
