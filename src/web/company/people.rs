//! Users: list with search and filters, a person's page (status and why, SCIM attributes,
//! role and Passles, job title, disable/enable), and adding a person by hand.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{field, form_pairs, ids};
use crate::auth::session::CompanyAccess;
use crate::db::AnyConnection;
use crate::domain::{Email, Role, UserAttributes};
use crate::error::PortalError;
use crate::models::activity::{Activity, NewActivity};
use crate::models::assignment::Assignment;
use crate::models::passle::Passle;
use crate::models::user::{NewPerson, User, UserRow};
use crate::models::CompanyId;
use crate::provisioning::status::{PersonStatus, status_condition};
use crate::state::AppState;
use crate::web::layout::{Layout, render, render_status, see_other};

const PAGE_SIZE: i64 = 50;

pub struct PersonLine {
    pub row: UserRow,
    pub status: PersonStatus,
}

impl PersonLine {
    pub fn role_label(&self) -> &'static str {
        self.row.role.as_deref().and_then(Role::parse).map_or("", Role::label)
    }
}

#[derive(Template)]
#[template(path = "company/users.html")]
pub struct UsersPage {
    layout: Layout,
    shortcode: String,
    q: String,
    status: String,
    source: String,
    people: Vec<PersonLine>,
    total: i64,
    page: i64,
    pages: i64,
    statuses: [PersonStatus; 5],
}

impl UsersPage {
    /// The list's query string for another page.
    fn link(&self, page: i64) -> String {
        let query = serde_urlencoded::to_string([("q", self.q.as_str()), ("status", self.status.as_str()), ("source", self.source.as_str()), ("page", &page.to_string())]).unwrap_or_default();
        format!("/c/{}/users?{query}", self.shortcode)
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    status: Option<String>,
    source: Option<String>,
    page: Option<i64>,
}

fn statuses_of(conn: &mut AnyConnection, company: CompanyId, rows: Vec<UserRow>) -> Result<Vec<PersonLine>, PortalError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let counts = Assignment::passle_counts(conn, company, &ids)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let passles = counts.iter().find(|(id, _)| *id == row.id).map_or(0, |(_, n)| *n);
            PersonLine { status: PersonStatus::of(&row, passles), row }
        })
        .collect())
}

pub async fn list(state: web::Data<AppState>, access: CompanyAccess, query: web::Query<ListQuery>) -> Result<HttpResponse, PortalError> {
    let query = query.into_inner();
    let (q, status, source) = (query.q.unwrap_or_default(), query.status.unwrap_or_default(), query.source.unwrap_or_default());
    let page = query.page.unwrap_or(1).max(1);
    let id = access.company.company_id();
    let condition = PersonStatus::from_key(&status).map(status_condition);
    let source_filter = matches!(source.as_str(), "entra" | "manual").then(|| source.clone());
    let term = q.clone();
    let (total, people) = state
        .db
        .read(move |conn| {
            let (total, rows) = User::portal_list(conn, id, &term, condition, source_filter.as_deref(), (page - 1) * PAGE_SIZE, PAGE_SIZE)?;
            Ok::<_, PortalError>((total, statuses_of(conn, id, rows)?))
        })
        .await?;
    render(&UsersPage {
        layout: Layout::for_company(&state, &access, "users").await?,
        shortcode: access.company.shortcode.clone(),
        q,
        status,
        source,
        people,
        total,
        page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        statuses: PersonStatus::ALL,
    })
}

/// One Passle as the person's page shows it: assigned or not, and by what.
pub struct PassleLine {
    pub id: i64,
    pub name: String,
    pub assigned: bool,
    /// The role that applies here: the highest of all sources.
    pub effective: Option<&'static str>,
    /// Where each assignment comes from, e.g. "Content Creator (user configuration)".
    pub sources: Vec<String>,
}

#[derive(Template)]
#[template(path = "company/user.html")]
pub struct UserPage {
    layout: Layout,
    shortcode: String,
    user: User,
    status: PersonStatus,
    job_title_sync: bool,
    roles: [Role; 3],
    passles: Vec<PassleLine>,
    attributes: String,
    activity: Vec<Activity>,
    notice: Option<String>,
    error: Option<String>,
}

impl UserPage {
    fn role_is(&self, role: &Role) -> bool {
        self.user.row.role.as_deref() == Some(role.as_str())
    }
}

fn source_label(source: &str) -> &str {
    match source {
        "manual" => "set by an admin",
        "configuration" => "user configuration",
        other if other.starts_with("group:") => "group mapping",
        other => other,
    }
}

async fn user_page(state: &AppState, access: &CompanyAccess, user_id: i64) -> Result<UserPage, PortalError> {
    let id = access.company.company_id();
    let (user, assignments, passles, activity) = state
        .db
        .read(move |conn| {
            let user = User::find_for_portal(conn, id, user_id)?.ok_or(PortalError::NotFound)?;
            Ok::<_, PortalError>((user, Assignment::for_user(conn, id, user_id)?, Passle::list(conn, id)?, Activity::for_user(conn, id, user_id, 20)?))
        })
        .await?;
    let lines: Vec<PassleLine> = passles
        .into_iter()
        .map(|p| {
            let mine: Vec<&Assignment> = assignments.iter().filter(|a| a.passle_id == p.id).collect();
            let sources = mine
                .iter()
                .map(|a| format!("{} ({})", Role::parse(&a.role).map_or("?", Role::label), source_label(&a.source)))
                .collect();
            let effective = mine.iter().filter_map(|a| Role::parse(&a.role)).max().map(Role::label);
            PassleLine { id: p.id, name: p.name, assigned: !mine.is_empty(), effective, sources }
        })
        .collect();
    let passle_count = lines.iter().filter(|l| l.assigned).count() as i64;
    let mut scim = crate::scim::user_json::render_user(&user.attributes);
    scim.remove("schemas");
    Ok(UserPage {
        layout: Layout::for_company(state, access, "users").await?,
        shortcode: access.company.shortcode.clone(),
        status: PersonStatus::of(&user.row, passle_count),
        job_title_sync: access.company.job_title_sync,
        roles: Role::ALL,
        passles: lines,
        attributes: serde_json::to_string_pretty(&scim).unwrap_or_default(),
        user,
        activity,
        notice: None,
        error: None,
    })
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

pub async fn show(state: web::Data<AppState>, access: CompanyAccess, path: web::Path<(String, i64)>, query: web::Query<NoticeQuery>) -> Result<HttpResponse, PortalError> {
    let mut page = user_page(&state, &access, path.1).await?;
    page.notice = query.notice.as_deref().map(|n| match n {
        "created" => "Person added.".to_owned(),
        _ => "Saved.".to_owned(),
    });
    render(&page)
}

fn record_admin(conn: &mut AnyConnection, company: CompanyId, admin: &str, operation: &str, row: &UserRow, detail: String) -> Result<(), PortalError> {
    let mut event = NewActivity::new(company, admin, operation, "User");
    event.resource_id = Some(row.scim_id.clone());
    event.user_id = Some(row.id);
    event.subject = Some(row.user_name.clone());
    event.detail = detail;
    event.insert(conn)?;
    Ok(())
}

/// Saves the person's role and Passles (admin settings, which SCIM never changes).
pub async fn save_access(state: web::Data<AppState>, access: CompanyAccess, path: web::Path<(String, i64)>, body: web::Bytes) -> Result<HttpResponse, PortalError> {
    let pairs = form_pairs(&body)?;
    access.signed.check_csrf(field(&pairs, "csrf_token"))?;
    let role = match field(&pairs, "role") {
        "" => None,
        raw => Some(Role::parse(raw).ok_or_else(|| PortalError::BadRequest("unknown role".into()))?),
    };
    let chosen = ids(&pairs, "passle");
    if role.is_none() && !chosen.is_empty() {
        let mut page = user_page(&state, &access, path.1).await?;
        page.error = Some("Choose a role to put this person on Passles (or clear the Passles).".into());
        return render_status(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let (id, user_id, admin) = (access.company.company_id(), path.1, access.signed.account.email.clone());
    state
        .db
        .write(move |conn| {
            let user = User::find_for_portal(conn, id, user_id)?.ok_or(PortalError::NotFound)?;
            User::set_role(conn, id, user_id, role.map(Role::as_str))?;
            for source in ["manual", "configuration"] {
                Assignment::revoke_except(conn, id, user_id, source, &chosen)?;
                if let Some(role) = role {
                    Assignment::set_role(conn, id, user_id, source, role)?;
                }
            }
            let current: Vec<i64> = Assignment::for_user(conn, id, user_id)?.iter().map(|a| a.passle_id).collect();
            let added: Vec<i64> = chosen.iter().copied().filter(|p| !current.contains(p)).collect();
            Assignment::grant(conn, id, user_id, &added, role.unwrap_or(Role::ContentCreator), "manual")?;
            let detail = format!("role {}; on {} Passle(s)", role.map_or("none", Role::label), chosen.len());
            record_admin(conn, id, &admin, "assign", &user.row, detail)
        })
        .await?;
    Ok(see_other(&format!("/c/{}/users/{user_id}?notice=saved", access.company.shortcode)))
}

pub async fn save_title(state: web::Data<AppState>, access: CompanyAccess, path: web::Path<(String, i64)>, body: web::Bytes) -> Result<HttpResponse, PortalError> {
    let pairs = form_pairs(&body)?;
    access.signed.check_csrf(field(&pairs, "csrf_token"))?;
    if access.company.job_title_sync {
        let mut page = user_page(&state, &access, path.1).await?;
        page.error = Some("Job titles are synced from Entra ID for this company; change them there.".into());
        return render_status(StatusCode::CONFLICT, &page);
    }
    let title = field(&pairs, "job_title").trim().chars().take(200).collect::<String>();
    let (id, user_id, admin) = (access.company.company_id(), path.1, access.signed.account.email.clone());
    state
        .db
        .write(move |conn| {
            let user = User::find_for_portal(conn, id, user_id)?.ok_or(PortalError::NotFound)?;
            User::set_job_title(conn, user.row.id, (!title.is_empty()).then_some(title.as_str()))?;
            record_admin(conn, id, &admin, "title", &user.row, format!("job title set to {title:?}"))
        })
        .await?;
    Ok(see_other(&format!("/c/{}/users/{user_id}?notice=saved", access.company.shortcode)))
}

pub async fn set_disabled(state: web::Data<AppState>, access: CompanyAccess, path: web::Path<(String, i64)>, body: web::Bytes) -> Result<HttpResponse, PortalError> {
    let pairs = form_pairs(&body)?;
    access.signed.check_csrf(field(&pairs, "csrf_token"))?;
    let disable = field(&pairs, "disabled") == "true";
    let (id, user_id, admin) = (access.company.company_id(), path.1, access.signed.account.email.clone());
    state
        .db
        .write(move |conn| {
            let user = User::find_for_portal(conn, id, user_id)?.ok_or(PortalError::NotFound)?;
            User::set_disabled_by_admin(conn, id, user_id, disable)?;
            let op = if disable { "disable" } else { "enable" };
            record_admin(conn, id, &admin, op, &user.row, format!("{op}d in the portal"))
        })
        .await?;
    Ok(see_other(&format!("/c/{}/users/{user_id}?notice=saved", access.company.shortcode)))
}

#[derive(Template)]
#[template(path = "company/user_new.html")]
pub struct NewUserPage {
    layout: Layout,
    shortcode: String,
    email: String,
    given: String,
    family: String,
    error: Option<String>,
}

pub async fn new_form(state: web::Data<AppState>, access: CompanyAccess) -> Result<HttpResponse, PortalError> {
    render(&NewUserPage {
        layout: Layout::for_company(&state, &access, "users").await?,
        shortcode: access.company.shortcode.clone(),
        email: String::new(),
        given: String::new(),
        family: String::new(),
        error: None,
    })
}

pub async fn create(state: web::Data<AppState>, access: CompanyAccess, body: web::Bytes) -> Result<HttpResponse, PortalError> {
    let pairs = form_pairs(&body)?;
    access.signed.check_csrf(field(&pairs, "csrf_token"))?;
    let (given, family) = (field(&pairs, "given_name").trim().to_owned(), field(&pairs, "family_name").trim().to_owned());
    let email = match Email::parse(field(&pairs, "email")) {
        Ok(email) => email,
        Err(e) => {
            let page = NewUserPage {
                layout: Layout::for_company(&state, &access, "users").await?,
                shortcode: access.company.shortcode.clone(),
                email: field(&pairs, "email").trim().to_owned(),
                given,
                family,
                error: Some(e),
            };
            return render_status(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let mut attrs = UserAttributes { user_name: email.to_string(), ..Default::default() };
    attrs.given_name = (!given.is_empty()).then_some(given);
    attrs.family_name = (!family.is_empty()).then_some(family);
    let (id, admin) = (access.company.company_id(), access.signed.account.email.clone());
    let created = state
        .db
        .write(move |conn| {
            let person = NewPerson::of(&attrs, "manual");
            match User::insert(conn, id, person, None) {
                Ok(user) => {
                    record_admin(conn, id, &admin, "create", &user.row, "added by hand in the portal".into())?;
                    Ok(Some(user.row.id))
                }
                Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => Ok(None),
                Err(e) => Err(PortalError::from(e)),
            }
        })
        .await?;
    match created {
        Some(user_id) => Ok(see_other(&format!("/c/{}/users/{user_id}?notice=created", access.company.shortcode))),
        None => {
            let page = NewUserPage {
                layout: Layout::for_company(&state, &access, "users").await?,
                shortcode: access.company.shortcode.clone(),
                email: email.to_string(),
                given: field(&pairs, "given_name").trim().to_owned(),
                family: field(&pairs, "family_name").trim().to_owned(),
                error: Some(format!("{email} already belongs to a person of this company")),
            };
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}
