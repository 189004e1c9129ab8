//! `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`: what this server really supports.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::auth::ScimContext;
use super::error::ScimError;
use super::http::{list_response, respond};
use super::schema::{ENTERPRISE_ATTRIBUTES, ENTERPRISE_SCHEMA, GROUP_ATTRIBUTES, GROUP_SCHEMA, USER_ATTRIBUTES, USER_SCHEMA, schema_json};
use super::users::MAX_COUNT;

pub async fn service_provider_config(ctx: ScimContext) -> HttpResponse {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": format!("{}/ServiceProviderConfig", ctx.base_url),
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": MAX_COUNT },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "The company's secret token from Manage Entra ID, sent as `Authorization: Bearer <token>`.",
            "primary": true
        }],
        "meta": { "resourceType": "ServiceProviderConfig", "location": format!("{}/ServiceProviderConfig", ctx.base_url) }
    });
    respond(StatusCode::OK, &body)
}

fn user_resource_type(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "A person of the company",
        "schema": USER_SCHEMA,
        "schemaExtensions": [{ "schema": ENTERPRISE_SCHEMA, "required": false }],
        "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User") }
    })
}

fn group_resource_type(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "Group",
        "name": "Group",
        "endpoint": "/Groups",
        "description": "A group of the company's people (can grant roles on Passles)",
        "schema": GROUP_SCHEMA,
        "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group") }
    })
}

fn schemas(base: &str) -> Vec<Value> {
    vec![
        schema_json(USER_SCHEMA, "User", "User Account", USER_ATTRIBUTES, &format!("{base}/Schemas/{USER_SCHEMA}")),
        schema_json(ENTERPRISE_SCHEMA, "EnterpriseUser", "Enterprise User", ENTERPRISE_ATTRIBUTES, &format!("{base}/Schemas/{ENTERPRISE_SCHEMA}")),
        schema_json(GROUP_SCHEMA, "Group", "Group", GROUP_ATTRIBUTES, &format!("{base}/Schemas/{GROUP_SCHEMA}")),
    ]
}

pub async fn resource_types(ctx: ScimContext) -> HttpResponse {
    let types = vec![user_resource_type(&ctx.base_url), group_resource_type(&ctx.base_url)];
    respond(StatusCode::OK, &list_response(types.len() as i64, 1, types))
}

pub async fn resource_type(ctx: ScimContext, path: web::Path<(String, String)>) -> Result<HttpResponse, ScimError> {
    let id = path.into_inner().1;
    if id.eq_ignore_ascii_case("User") {
        Ok(respond(StatusCode::OK, &user_resource_type(&ctx.base_url)))
    } else if id.eq_ignore_ascii_case("Group") {
        Ok(respond(StatusCode::OK, &group_resource_type(&ctx.base_url)))
    } else {
        Err(ScimError::not_found(format!("no resource type {id:?}")))
    }
}

pub async fn schema_list(ctx: ScimContext) -> HttpResponse {
    let all = schemas(&ctx.base_url);
    respond(StatusCode::OK, &list_response(all.len() as i64, 1, all))
}

pub async fn schema(ctx: ScimContext, path: web::Path<(String, String)>) -> Result<HttpResponse, ScimError> {
    let id = path.into_inner().1;
    schemas(&ctx.base_url)
        .into_iter()
        .find(|s| s["id"].as_str().is_some_and(|sid| sid.eq_ignore_ascii_case(&id)))
        .map(|s| respond(StatusCode::OK, &s))
        .ok_or_else(|| ScimError::not_found(format!("no schema {id:?}")))
}

/// Any other path under the SCIM base.
pub async fn not_found() -> Result<HttpResponse, ScimError> {
    Err(ScimError::not_found("no such SCIM endpoint; this server offers /Users, /Groups, /ServiceProviderConfig, /ResourceTypes and /Schemas"))
}

/// 405 with the `Allow` header listing what the endpoint offers.
pub fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let error = ScimError::new(StatusCode::METHOD_NOT_ALLOWED, None, format!("this endpoint accepts {allow}"));
    let mut response = actix_web::ResponseError::error_response(&error);
    response.headers_mut().insert(actix_web::http::header::ALLOW, actix_web::http::header::HeaderValue::from_static(allow));
    response
}
