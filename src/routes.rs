//! The route table: every URL the server answers, in one place.

use actix_web::web;

use crate::web::company::{activity, entra, groups, passles, people};
use crate::web::{account, health, setup, staff};

pub fn configure(cfg: &mut web::ServiceConfig) {
    // SCIM first: Entra sends thousands of requests per cycle, and actix tries routes in
    // order, so SCIM requests should not be matched against every portal pattern first.
    crate::scim::routes(cfg);
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/", web::get().to(account::home))
        .service(web::resource("/sign-in").route(web::get().to(account::sign_in_form)).route(web::post().to(account::sign_in)))
        .route("/sign-out", web::post().to(account::sign_out))
        .service(web::resource("/account/password").route(web::get().to(account::password_form)).route(web::post().to(account::change_password)))
        .service(web::resource("/staff/companies").route(web::get().to(staff::companies)).route(web::post().to(staff::create_company)))
        .route("/staff/companies/new", web::get().to(staff::new_company))
        .route("/staff/companies/{shortcode}", web::get().to(staff::company))
        .route("/staff/companies/{shortcode}/settings", web::post().to(staff::toggle))
        .route("/staff/companies/{shortcode}/admins", web::post().to(staff::create_admin))
        .route("/c/{shortcode}/entra", web::get().to(entra::show))
        .route("/c/{shortcode}/entra/token", web::post().to(entra::generate_token))
        .route("/c/{shortcode}/entra/disconnect", web::post().to(entra::disconnect_entra))
        .route("/c/{shortcode}/entra/configuration", web::post().to(entra::save_configuration))
        .service(web::resource("/c/{shortcode}/users").route(web::get().to(people::list)).route(web::post().to(people::create)))
        .route("/c/{shortcode}/users/new", web::get().to(people::new_form))
        .route("/c/{shortcode}/users/{id}", web::get().to(people::show))
        .route("/c/{shortcode}/users/{id}/access", web::post().to(people::save_access))
        .route("/c/{shortcode}/users/{id}/title", web::post().to(people::save_title))
        .route("/c/{shortcode}/users/{id}/disabled", web::post().to(people::set_disabled))
        .service(web::resource("/c/{shortcode}/passles").route(web::get().to(passles::list)).route(web::post().to(passles::create)))
        .route("/c/{shortcode}/passles/{id}", web::post().to(passles::rename))
        .route("/c/{shortcode}/activity", web::get().to(activity::list))
        .route("/c/{shortcode}/groups", web::get().to(groups::list))
        .route("/c/{shortcode}/groups/{id}", web::get().to(groups::show))
        .route("/c/{shortcode}/groups/{id}/mappings", web::post().to(groups::add_mapping))
        .route("/c/{shortcode}/groups/{id}/mappings/{mapping}/delete", web::post().to(groups::remove_mapping))
        .service(web::resource("/setup/{token}").route(web::get().to(setup::form)).route(web::post().to(setup::submit)))
        .service(actix_files::Files::new("/static", concat!(env!("CARGO_MANIFEST_DIR"), "/static")));
}
