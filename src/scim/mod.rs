//! The SCIM 2.0 service (RFC 7643/7644 plus Microsoft Entra ID's dialect), one per company at
//! `/scim/{shortcode}/v2`.

mod attempt;
pub mod auth;
pub mod error;
pub mod filter;
pub mod groups;
pub mod http;
pub mod patch;
pub mod query;
pub mod recent_people;
pub mod schema;
pub mod token_cache;
mod user_writer;
pub mod user_json;
pub mod users;
pub mod discovery;

use actix_web::web;

/// The SCIM routes, mounted at `/scim/{shortcode}/v2`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use discovery as d;
    let not_allowed = |allow: &'static str| web::route().to(move || async move { d::method_not_allowed(allow) });
    cfg.service(
        web::scope("/scim/{shortcode}/v2")
            .service(
                web::resource("/Users")
                    .route(web::get().to(users::list))
                    .route(web::post().to(users::create))
                    .default_service(not_allowed("GET, POST")),
            )
            .service(web::resource("/Users/.search").route(web::post().to(users::search)).default_service(not_allowed("POST")))
            .service(web::resource("/.search").route(web::post().to(users::search_all)).default_service(not_allowed("POST")))
            .service(web::resource("/Groups/.search").route(web::post().to(groups::search)).default_service(not_allowed("POST")))
            .service(
                web::resource("/Users/{id}")
                    .route(web::get().to(users::get))
                    .route(web::put().to(users::replace))
                    .route(web::patch().to(users::modify))
                    .route(web::delete().to(users::delete))
                    .default_service(not_allowed("GET, PUT, PATCH, DELETE")),
            )
            .service(
                web::resource("/Groups")
                    .route(web::get().to(groups::list))
                    .route(web::post().to(groups::create))
                    .default_service(not_allowed("GET, POST")),
            )
            .service(
                web::resource("/Groups/{id}")
                    .route(web::get().to(groups::get))
                    .route(web::put().to(groups::replace))
                    .route(web::patch().to(groups::modify))
                    .route(web::delete().to(groups::delete))
                    .default_service(not_allowed("GET, PUT, PATCH, DELETE")),
            )
            .service(web::resource("/ServiceProviderConfig").route(web::get().to(d::service_provider_config)).default_service(not_allowed("GET")))
            .service(web::resource("/ResourceTypes").route(web::get().to(d::resource_types)).default_service(not_allowed("GET")))
            .service(web::resource("/ResourceTypes/{id}").route(web::get().to(d::resource_type)).default_service(not_allowed("GET")))
            .service(web::resource("/Schemas").route(web::get().to(d::schema_list)).default_service(not_allowed("GET")))
            .service(web::resource("/Schemas/{id}").route(web::get().to(d::schema)).default_service(not_allowed("GET")))
            .default_service(web::route().to(d::not_found)),
    );
}

/// Values for the unit tests of this module's parts.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::domain::UserAttributes;
    use crate::models::user::{User, UserRow};

    /// A person with a row and no SCIM attributes.
    pub fn person(scim_id: &str) -> User {
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("a valid time").naive_utc();
        let row = UserRow {
            id: 1,
            company_id: 1,
            scim_id: scim_id.to_owned(),
            user_name: "ann@example.com".into(),
            user_name_lower: "ann@example.com".into(),
            external_id: None,
            external_id_lower: None,
            email: None,
            email_lower: None,
            display_name: None,
            given_name: None,
            family_name: None,
            title: None,
            preferred_language: None,
            manager_id: None,
            scim_active: Some(true),
            job_title: None,
            role: None,
            source: "entra".into(),
            disabled_at: None,
            deprovisioned_at: None,
            created_at: at,
            updated_at: at,
            version: 1,
            deprovisioned_key: None,
            scim_values: "{}".into(),
        };
        User { row, attributes: UserAttributes::default(), groups: Vec::new() }
    }
}
