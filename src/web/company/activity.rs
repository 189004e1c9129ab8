//! Provisioning activity: every SCIM write and admin action, newest first.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::session::CompanyAccess;
use crate::error::PortalError;
use crate::models::account::Account;
use crate::models::activity::{Activity, OutcomeFilter};
use crate::state::AppState;
use crate::web::layout::{Layout, render};

const PAGE_SIZE: i64 = 50;

#[derive(Template)]
#[template(path = "company/activity.html")]
pub struct ActivityListPage {
    layout: Layout,
    shortcode: String,
    outcome: String,
    /// Showing older events (not the newest).
    paged: bool,
    events: Vec<Activity>,
    older: Option<i64>,
}

#[derive(Deserialize)]
pub struct ActivityQuery {
    outcome: Option<String>,
    before: Option<i64>,
}

pub async fn list(state: web::Data<AppState>, access: CompanyAccess, query: web::Query<ActivityQuery>) -> Result<HttpResponse, PortalError> {
    let outcome = query.outcome.clone().unwrap_or_default();
    let filter = match outcome.as_str() {
        "failure" => OutcomeFilter::Failure,
        "success" => OutcomeFilter::Success,
        _ => OutcomeFilter::All,
    };
    let (id, before, account) = (access.company.company_id(), query.before, access.signed.account.id);
    let layout = Layout::for_company(&state, &access, "activity").await?;
    // Opening this page is "looking": the header's failure counter starts again. Marked
    // before the read, so a failure recorded in between is shown and still counted, never
    // hidden; the read stays out of the write (on SQLite every write queues for one thread).
    state.db.write(move |conn| Account::mark_activity_seen(conn, account).map_err(PortalError::from)).await?;
    let page = state.db.read(move |conn| Activity::page(conn, id, filter, before, PAGE_SIZE).map_err(PortalError::from)).await?;
    let shortcode = access.company.shortcode.clone();
    render(&ActivityListPage { layout, shortcode, outcome, paged: before.is_some(), events: page.events, older: page.older })
}
