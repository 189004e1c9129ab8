//! Client Success pages: companies, their modules, their admins, their integration state.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::layout::{Layout, render, render_status, see_other, when};
use crate::auth::password::hash_password;
use crate::auth::session::StaffOnly;
use crate::db::DbError;
use crate::domain::{CompanyName, Email, Password, Shortcode, random_alphanumeric};
use crate::error::PortalError;
use crate::models::account::Account;
use crate::models::activity::{Activity, OutcomeFilter};
use crate::models::scim_token::ScimToken;
use crate::models::user::User;
use crate::models::{Company, CompanyId};
use crate::provisioning::status::{PersonStatus, status_key_sql};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "staff/companies.html")]
pub struct CompaniesPage {
    layout: Layout,
    search: String,
    companies: Vec<Company>,
}

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
}

pub async fn companies(state: web::Data<AppState>, staff: StaffOnly, query: web::Query<SearchQuery>) -> Result<HttpResponse, PortalError> {
    let search = query.q.clone().unwrap_or_default();
    let term = search.clone();
    let companies = state.db.read(move |conn| Company::list(conn, Some(&term)).map_err(PortalError::from)).await?;
    render(&CompaniesPage { layout: Layout::of(&staff.0, "companies"), search, companies })
}

#[derive(Template)]
#[template(path = "staff/company_new.html")]
pub struct NewCompanyPage {
    layout: Layout,
    name: String,
    shortcode: String,
    name_error: Option<String>,
    shortcode_error: Option<String>,
}

pub async fn new_company(staff: StaffOnly) -> Result<HttpResponse, PortalError> {
    render(&NewCompanyPage {
        layout: Layout::of(&staff.0, "companies"),
        name: String::new(),
        shortcode: String::new(),
        name_error: None,
        shortcode_error: None,
    })
}

#[derive(Deserialize)]
pub struct NewCompanyForm {
    name: String,
    shortcode: String,
    #[serde(default)]
    csrf_token: String,
}

pub async fn create_company(state: web::Data<AppState>, staff: StaffOnly, form: web::Form<NewCompanyForm>) -> Result<HttpResponse, PortalError> {
    staff.0.check_csrf(&form.csrf_token)?;
    let mut page = NewCompanyPage {
        layout: Layout::of(&staff.0, "companies"),
        name: form.name.trim().to_owned(),
        shortcode: form.shortcode.trim().to_owned(),
        name_error: None,
        shortcode_error: None,
    };
    let name = CompanyName::parse(&form.name).map_err(|e| page.name_error = Some(e)).ok();
    let code = Shortcode::parse(&form.shortcode).map_err(|e| page.shortcode_error = Some(e)).ok();
    let (Some(name), Some(code)) = (name, code) else {
        return render_status(StatusCode::UNPROCESSABLE_ENTITY, &page);
    };
    let shortcode = code.as_str().to_owned();
    let created = state.db.write(move |conn| Company::create(conn, &code, &name, false).map_err(DbError::from)).await;
    match created {
        Ok(_) => Ok(see_other(&format!("/staff/companies/{shortcode}?notice=created"))),
        Err(err) if err.is_unique_violation() => {
            page.shortcode_error = Some(format!("shortcode {shortcode} is already taken"));
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(err) => Err(err.into()),
    }
}

/// A per-company switch as the company page shows it.
pub struct Module {
    pub setting: &'static str,
    pub label: &'static str,
    pub on: bool,
    pub explain: &'static str,
}

fn modules(company: &Company) -> Vec<Module> {
    vec![
        Module {
            setting: "entra",
            label: "Entra ID module",
            on: company.entra_enabled,
            explain: "Lets the company's admins connect Microsoft Entra ID. Off: their SCIM endpoint answers 403.",
        },
        Module {
            setting: "groups",
            label: "Group provisioning",
            on: company.groups_enabled,
            explain: "Lets Entra provision groups, which admins can map to Passles. Off: /Groups answers 403.",
        },
        Module {
            setting: "job_title_sync",
            label: "Job-title sync",
            on: company.job_title_sync,
            explain: "On: the title Entra sends becomes the person's job title (read-only in the portal).",
        },
    ]
}

pub struct StatusCount {
    pub label: &'static str,
    pub key: &'static str,
    pub count: i64,
}

#[derive(Template)]
#[template(path = "staff/company.html")]
pub struct CompanyPage {
    layout: Layout,
    company: Company,
    modules: Vec<Module>,
    notice: Option<String>,
    admins: Vec<Account>,
    token: Option<ScimToken>,
    counts: Vec<StatusCount>,
    failures: Vec<Activity>,
    new_admin: Option<(String, String)>,
    admin_error: Option<String>,
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

fn notice_text(code: &str) -> Option<String> {
    Some(match code {
        "created" => "Company created. Enable the Entra ID module when the customer is ready.",
        "saved" => "Saved.",
        _ => return None,
    }.to_owned())
}

async fn company_page(state: &AppState, staff: &StaffOnly, shortcode: String) -> Result<CompanyPage, PortalError> {
    let (company, admins, token, counts, failures) = state
        .db
        .read(move |conn| {
            let company = Company::find_by_shortcode(conn, &shortcode)?.ok_or(PortalError::NotFound)?;
            let id = company.company_id();
            let admins = Account::list_for_company(conn, id)?;
            let token = ScimToken::current(conn, id)?;
            let found = User::count_by(conn, id, status_key_sql())?;
            let count_of = |key: &str| found.iter().find(|(k, _)| k == key).map_or(0, |(_, n)| *n);
            let counts = PersonStatus::ALL.into_iter().map(|status| StatusCount { label: status.label(), key: status.key(), count: count_of(status.key()) }).collect();
            let failures = Activity::page(conn, id, OutcomeFilter::Failure, None, 5)?.events;
            Ok::<_, PortalError>((company, admins, token, counts, failures))
        })
        .await?;
    Ok(CompanyPage { layout: Layout::of(&staff.0, "companies"), modules: modules(&company), company, notice: None, admins, token, counts, failures, new_admin: None, admin_error: None })
}

pub async fn company(state: web::Data<AppState>, staff: StaffOnly, path: web::Path<String>, query: web::Query<NoticeQuery>) -> Result<HttpResponse, PortalError> {
    let mut page = company_page(&state, &staff, path.into_inner()).await?;
    page.notice = query.notice.as_deref().and_then(notice_text);
    render(&page)
}

#[derive(Deserialize)]
pub struct ToggleForm {
    setting: String,
    enabled: String,
    #[serde(default)]
    csrf_token: String,
}

/// Turns a per-company switch on or off: the Entra ID module, job-title sync, groups.
pub async fn toggle(state: web::Data<AppState>, staff: StaffOnly, path: web::Path<String>, form: web::Form<ToggleForm>) -> Result<HttpResponse, PortalError> {
    staff.0.check_csrf(&form.csrf_token)?;
    let shortcode = path.into_inner();
    let on = form.enabled == "true";
    let setting = form.setting.clone();
    let code = shortcode.clone();
    state
        .db
        .write(move |conn| {
            let company = Company::find_by_shortcode(conn, &code)?.ok_or(PortalError::NotFound)?;
            let id: CompanyId = company.company_id();
            match setting.as_str() {
                "entra" => Company::set_entra_enabled(conn, id, on)?,
                "job_title_sync" => Company::set_job_title_sync(conn, id, on)?,
                "groups" => Company::set_groups_enabled(conn, id, on)?,
                _ => return Err(PortalError::BadRequest("unknown setting".into())),
            };
            Ok(())
        })
        .await?;
    Ok(see_other(&format!("/staff/companies/{shortcode}?notice=saved")))
}

#[derive(Deserialize)]
pub struct NewAdminForm {
    email: String,
    #[serde(default)]
    csrf_token: String,
}

/// Creates a company admin with a one-time password, shown once on the page that answers.
pub async fn create_admin(state: web::Data<AppState>, staff: StaffOnly, path: web::Path<String>, form: web::Form<NewAdminForm>) -> Result<HttpResponse, PortalError> {
    staff.0.check_csrf(&form.csrf_token)?;
    let shortcode = path.into_inner();
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(e) => {
            let mut page = company_page(&state, &staff, shortcode).await?;
            page.admin_error = Some(e);
            return render_status(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    let one_time = random_alphanumeric(16);
    let password = Password::parse(&one_time).map_err(|e| PortalError::Internal(anyhow::anyhow!(e)))?;
    let hash = web::block(move || hash_password(&password)).await.map_err(|e| PortalError::Internal(anyhow::anyhow!(e.to_string())))??;
    let (code, address) = (shortcode.clone(), email.clone());
    let created = state
        .db
        .write(move |conn| {
            let company = Company::find_by_shortcode(conn, &code)?.ok_or(PortalError::NotFound)?;
            match Account::create(conn, Some(company.company_id()), &address, &hash, true) {
                Ok(_) => Ok(true),
                Err(e) => {
                    let e = DbError::from(e);
                    if e.is_unique_violation() { Ok(false) } else { Err(PortalError::from(e)) }
                }
            }
        })
        .await?;
    let mut page = company_page(&state, &staff, shortcode).await?;
    if created {
        page.new_admin = Some((email.to_string(), one_time));
        render(&page)
    } else {
        page.admin_error = Some(format!("an account with email {email} already exists"));
        render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
    }
}

/// Used by the templates.
pub fn time(at: &chrono::NaiveDateTime) -> String {
    when(at)
}
