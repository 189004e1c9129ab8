//! Passles: list, create, rename.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::{field, form_pairs};
use crate::auth::session::CompanyAccess;
use crate::db::DbError;
use crate::domain::PassleName;
use crate::error::PortalError;
use crate::models::passle::Passle;
use crate::state::AppState;
use crate::web::layout::{Layout, render, render_status, see_other};

#[derive(Template)]
#[template(path = "company/passles.html")]
pub struct PasslesPage {
    layout: Layout,
    shortcode: String,
    passles: Vec<Passle>,
    name: String,
    error: Option<String>,
    saved: bool,
}

async fn page(state: &AppState, access: &CompanyAccess) -> Result<PasslesPage, PortalError> {
    let id = access.company.company_id();
    let passles = state.db.read(move |conn| Passle::list(conn, id).map_err(PortalError::from)).await?;
    Ok(PasslesPage {
        layout: Layout::for_company(state, access, "passles").await?,
        shortcode: access.company.shortcode.clone(),
        passles,
        name: String::new(),
        error: None,
        saved: false,
    })
}

#[derive(serde::Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

pub async fn list(state: web::Data<AppState>, access: CompanyAccess, query: web::Query<SavedQuery>) -> Result<HttpResponse, PortalError> {
    let mut page = page(&state, &access).await?;
    page.saved = query.saved.is_some();
    render(&page)
}

/// Creates (no `id`) or renames (with `id`) a Passle.
async fn save(state: &AppState, access: &CompanyAccess, passle: Option<i64>, body: &[u8]) -> Result<HttpResponse, PortalError> {
    let pairs = form_pairs(body)?;
    access.signed.check_csrf(field(&pairs, "csrf_token"))?;
    let raw = field(&pairs, "name").to_owned();
    let problem = match PassleName::parse(&raw) {
        Err(e) => Some(e),
        Ok(name) => {
            let id = access.company.company_id();
            let result = state
                .db
                .write(move |conn| match passle {
                    None => Passle::create(conn, id, &name).map(|_| 1).map_err(DbError::from),
                    Some(pid) => Passle::rename(conn, id, pid, &name).map_err(DbError::from),
                })
                .await;
            match result {
                Ok(0) => return Err(PortalError::NotFound),
                Ok(_) => None,
                Err(e) if e.is_unique_violation() => Some(format!("a Passle named {:?} already exists", raw.trim())),
                Err(e) => return Err(e.into()),
            }
        }
    };
    match problem {
        None => Ok(see_other(&format!("/c/{}/passles?saved=1", access.company.shortcode))),
        Some(problem) => {
            let mut page = page(state, access).await?;
            page.name = raw;
            page.error = Some(problem);
            render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

pub async fn create(state: web::Data<AppState>, access: CompanyAccess, body: web::Bytes) -> Result<HttpResponse, PortalError> {
    save(&state, &access, None, &body).await
}

pub async fn rename(state: web::Data<AppState>, access: CompanyAccess, path: web::Path<(String, i64)>, body: web::Bytes) -> Result<HttpResponse, PortalError> {
    save(&state, &access, Some(path.1), &body).await
}
