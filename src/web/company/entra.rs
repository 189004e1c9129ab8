//! Manage Entra ID: the secret token, disconnecting, the user configuration, the setup guide.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{field, form_pairs, ids};
use crate::auth::session::CompanyAccess;
use crate::domain::{ProvisioningMode, Shortcode};
use crate::error::PortalError;
use crate::models::passle::Passle;
use crate::models::scim_token::ScimToken;
use crate::provisioning::connection::disconnect;
use crate::state::AppState;
use crate::web::layout::{Layout, render, render_status, see_other};

#[derive(Template)]
#[template(path = "company/entra.html")]
pub struct EntraPage {
    layout: Layout,
    entra_enabled: bool,
    job_title_sync: bool,
    shortcode: String,
    tenant_url: String,
    token: Option<ScimToken>,
    new_token: Option<String>,
    mode: &'static str,
    passles: Vec<Passle>,
    notice: Option<String>,
    config_error: Option<String>,
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

impl NoticeQuery {
    pub fn has_notice(&self) -> bool {
        self.notice.is_some()
    }
}

fn notice(code: &str) -> Option<String> {
    Some(
        match code {
            "saved" => "User configuration saved. It applies to people Entra creates from now on.",
            "disconnected" => "Disconnected: the secret token no longer works, so Entra can no longer provision.",
            "disconnected-disabled" => "Disconnected, and everyone this connection provisioned is disabled. Generating a new token re-enables nobody by itself: Entra's next cycle does.",
            _ => return None,
        }
        .to_owned(),
    )
}

async fn page(state: &AppState, access: &CompanyAccess) -> Result<EntraPage, PortalError> {
    let id = access.company.company_id();
    let (token, passles) = state
        .db
        .read(move |conn| Ok::<_, PortalError>((ScimToken::current(conn, id)?, Passle::list(conn, id)?)))
        .await?;
    let c = &access.company;
    Ok(EntraPage {
        layout: Layout::for_company(state, access, "entra").await?,
        entra_enabled: c.entra_enabled,
        job_title_sync: c.job_title_sync,
        shortcode: c.shortcode.clone(),
        tenant_url: state.public_url.tenant_url(&c.shortcode),
        token,
        new_token: None,
        mode: c.mode().as_str(),
        passles,
        notice: None,
        config_error: None,
    })
}

pub async fn show(state: web::Data<AppState>, access: CompanyAccess, query: web::Query<NoticeQuery>) -> Result<HttpResponse, PortalError> {
    let mut page = page(&state, &access).await?;
    page.notice = query.notice.as_deref().and_then(notice);
    render(&page)
}

fn require_module(access: &CompanyAccess) -> Result<(), PortalError> {
    if access.company.entra_enabled {
        Ok(())
    } else {
        Err(PortalError::BadRequest("The Entra ID module is not enabled for this company. Client Success must enable it first.".into()))
    }
}

/// Generates (or regenerates) the token; the answer is the only place it is ever shown.
pub async fn generate_token(state: web::Data<AppState>, access: CompanyAccess, body: web::Bytes) -> Result<HttpResponse, PortalError> {
    let pairs = form_pairs(&body)?;
    access.signed.check_csrf(field(&pairs, "csrf_token"))?;
    require_module(&access)?;
    let id = access.company.company_id();
    let shortcode = Shortcode::parse(&access.company.shortcode).map_err(|e| PortalError::Internal(anyhow::anyhow!(e)))?;
    let secret = state.db.write(move |conn| ScimToken::rotate(conn, id, &shortcode).map_err(PortalError::from)).await?;
    let mut page = page(&state, &access).await?;
    page.new_token = Some(secret.expose().to_owned());
    let mut response = render(&page)?;
    // The token must not linger in caches or history.
    response.headers_mut().insert(actix_web::http::header::CACHE_CONTROL, actix_web::http::header::HeaderValue::from_static("no-store"));
    Ok(response)
}

pub async fn disconnect_entra(state: web::Data<AppState>, access: CompanyAccess, body: web::Bytes) -> Result<HttpResponse, PortalError> {
    let pairs = form_pairs(&body)?;
    access.signed.check_csrf(field(&pairs, "csrf_token"))?;
    let disable_all = field(&pairs, "disable_all") == "yes";
    let (id, who) = (access.company.company_id(), access.signed.account.email.clone());
    state.db.write(move |conn| disconnect(conn, id, &who, disable_all).map_err(PortalError::from)).await?;
    let code = if disable_all { "disconnected-disabled" } else { "disconnected" };
    Ok(see_other(&format!("/c/{}/entra?notice={code}", access.company.shortcode)))
}

pub async fn save_configuration(state: web::Data<AppState>, access: CompanyAccess, body: web::Bytes) -> Result<HttpResponse, PortalError> {
    let pairs = form_pairs(&body)?;
    access.signed.check_csrf(field(&pairs, "csrf_token"))?;
    let mode = ProvisioningMode::parse(field(&pairs, "mode"));
    // Only this company's Passles count; any other id in the form is ignored.
    let id = access.company.company_id();
    let own: Vec<i64> = state.db.read(move |conn| Passle::list(conn, id).map_err(PortalError::from)).await?.into_iter().map(|p| p.id).collect();
    let chosen: Vec<i64> = ids(&pairs, "passle").into_iter().filter(|p| own.contains(p)).collect();
    let problem = match mode {
        None => Some("Choose one of the three options."),
        Some(ProvisioningMode::SelectedPassles) if chosen.is_empty() => Some("Choose at least one Passle, or pick another option."),
        _ => None,
    };
    if let Some(problem) = problem {
        let mut page = page(&state, &access).await?;
        page.config_error = Some(problem.to_owned());
        if let Some(m) = mode {
            page.mode = m.as_str();
        }
        return render_status(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let (id, mode) = (access.company.company_id(), mode.unwrap_or(ProvisioningMode::None));
    state
        .db
        .write(move |conn| {
            crate::models::Company::set_provisioning_mode(conn, id, mode)?;
            let selected = if mode == ProvisioningMode::SelectedPassles { chosen } else { Vec::new() };
            Passle::set_selected_for_provisioning(conn, id, &selected)?;
            Ok::<_, PortalError>(())
        })
        .await?;
    Ok(see_other(&format!("/c/{}/entra?notice=saved", access.company.shortcode)))
}
