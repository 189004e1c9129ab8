//! Request and response plumbing shared by the SCIM handlers: bounded JSON bodies, query
//! parameters, `application/scim+json` responses, and `attributes`/`excludedAttributes`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde_json::{Map, Value};

use super::error::{SCIM_CONTENT_TYPE, ScimError, ScimType};

/// Largest request body accepted (a user with every attribute is a few KB; group member
/// batches stay far below this).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Reads the body as JSON: 413 past [`MAX_BODY_BYTES`], 400 `invalidSyntax` when malformed.
pub async fn read_json(mut payload: web::Payload) -> Result<Value, ScimError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ScimError::bad_request(ScimType::InvalidSyntax, format!("could not read the request body: {e}")))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ScimError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                format!("request body is larger than {MAX_BODY_BYTES} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    if body.is_empty() {
        return Err(ScimError::bad_request(ScimType::InvalidSyntax, "the request body is empty; send a JSON object"));
    }
    serde_json::from_slice(&body)
        .map_err(|e| ScimError::bad_request(ScimType::InvalidSyntax, format!("the request body is not valid JSON: {e}")))
}

/// Query parameters (names case-insensitive; unknown ones such as `aadOptscim062020` ignored).
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn of(req: &HttpRequest) -> Result<Query, ScimError> {
        serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
            .map(Query)
            .map_err(|e| ScimError::bad_request(ScimType::InvalidSyntax, format!("malformed query string: {e}")))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// A comma-separated attribute list (`attributes`, `excludedAttributes`).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default()
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, ScimError> {
        match self.get(name).map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer, not {v:?}"))),
        }
    }
}

/// Which attributes to return.
#[derive(Clone)]
pub struct Projection {
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

impl Projection {
    pub fn of(query: &Query) -> Projection {
        Projection { attributes: query.list("attributes"), excluded: query.list("excludedAttributes") }
    }

    /// Whether it leaves every resource as it is (neither list given).
    pub fn is_identity(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }

    /// Applies the lists to a resource. `id`, `schemas` and `meta` always stay.
    pub fn apply(&self, resource: &mut Map<String, Value>, core_urn: &str) {
        if !self.attributes.is_empty() {
            let mut kept = Map::new();
            for key in ["id", "schemas", "meta"] {
                if let Some(v) = resource.remove(key) {
                    kept.insert(key.to_owned(), v);
                }
            }
            for path in &self.attributes {
                copy_path(resource, &mut kept, path, core_urn);
            }
            *resource = kept;
        }
        for path in &self.excluded {
            remove_path(resource, path, core_urn);
        }
    }
}

/// Splits `urn:…:attr.sub` / `attr.sub` into (container key or None, attr, sub).
fn split_path<'p>(path: &'p str, core_urn: &str) -> (Option<&'p str>, &'p str, Option<&'p str>) {
    let (urn, rest) = match path.to_ascii_lowercase().starts_with("urn:") {
        true => match path.rsplit_once(':') {
            Some((urn, rest)) if urn.eq_ignore_ascii_case(core_urn) => (None, rest),
            Some((urn, rest)) => (Some(urn), rest),
            None => (None, path),
        },
        false => (None, path),
    };
    match rest.split_once('.') {
        Some((attr, sub)) => (urn, attr, Some(sub)),
        None => (urn, rest, None),
    }
}

fn key_ci<'m>(map: &'m Map<String, Value>, name: &str) -> Option<&'m String> {
    map.keys().find(|k| k.eq_ignore_ascii_case(name))
}

fn copy_path(from: &Map<String, Value>, to: &mut Map<String, Value>, path: &str, core_urn: &str) {
    let (urn, attr, sub) = split_path(path, core_urn);
    let (source, target) = match urn {
        None => (Some(from), to),
        Some(urn) => {
            // A bare extension URN selects the whole extension.
            if let Some(k) = key_ci(from, path) {
                to.insert(k.clone(), from[k].clone());
                return;
            }
            let Some(k) = key_ci(from, urn).cloned() else { return };
            let slot = to.entry(k.clone()).or_insert_with(|| Value::Object(Map::new()));
            let (Some(Value::Object(src)), Value::Object(dst)) = (from.get(&k), slot) else { return };
            copy_path(src, dst, &match sub { Some(s) => format!("{attr}.{s}"), None => attr.to_owned() }, core_urn);
            return;
        }
    };
    let Some(source) = source else { return };
    let Some(key) = key_ci(source, attr).cloned() else { return };
    match (sub, &source[&key]) {
        (None, value) => {
            target.insert(key, value.clone());
        }
        (Some(s), Value::Object(parts)) => {
            if let Some(sk) = key_ci(parts, s) {
                let slot = target.entry(key).or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(dst) = slot {
                    dst.insert(sk.clone(), parts[sk].clone());
                }
            }
        }
        (Some(s), Value::Array(items)) => {
            let picked: Vec<Value> = items
                .iter()
                .filter_map(|item| item.as_object())
                .filter_map(|o| key_ci(o, s).map(|k| Value::Object(Map::from_iter([(k.clone(), o[k].clone())]))))
                .collect();
            if !picked.is_empty() {
                target.insert(key, Value::Array(picked));
            }
        }
        _ => {}
    }
}

fn remove_path(resource: &mut Map<String, Value>, path: &str, core_urn: &str) {
    let (urn, attr, sub) = split_path(path, core_urn);
    if ["id", "schemas"].iter().any(|k| attr.eq_ignore_ascii_case(k)) && urn.is_none() && sub.is_none() {
        return;
    }
    let holder = match urn {
        None => resource,
        Some(urn) => {
            if let Some(k) = key_ci(resource, path).cloned() {
                resource.remove(&k);
                return;
            }
            match key_ci(resource, urn).cloned().and_then(|k| resource.get_mut(&k)) {
                Some(Value::Object(ext)) => ext,
                _ => return,
            }
        }
    };
    let Some(key) = key_ci(holder, attr).cloned() else { return };
    match sub {
        None => {
            holder.remove(&key);
        }
        Some(s) => match holder.get_mut(&key) {
            Some(Value::Object(parts)) => {
                if let Some(sk) = key_ci(parts, s).cloned() {
                    parts.remove(&sk);
                }
            }
            Some(Value::Array(items)) => {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    if let Some(sk) = key_ci(item, s).cloned() {
                        item.remove(&sk);
                    }
                }
            }
            _ => {}
        },
    }
}

/// A SCIM JSON response.
pub fn respond(status: StatusCode, body: &Value) -> HttpResponse {
    respond_bytes(status, json_bytes(body))
}

/// [`respond`] with the body already written as JSON.
pub fn respond_bytes(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    HttpResponse::build(status).content_type(SCIM_CONTENT_TYPE).body(body)
}

/// The JSON text of `body`, written straight into bytes (`to_string` goes through
/// `fmt::Display`, one formatter call per token).
pub fn json_bytes(body: &Value) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_default()
}

/// A single-resource response with `ETag` (and `Location` for creations).
pub fn respond_resource(status: StatusCode, body: &Value, etag: &str, location: Option<&str>) -> HttpResponse {
    respond_resource_bytes(status, json_bytes(body), etag, location)
}

/// [`respond_resource`] with the body already written as JSON.
pub fn respond_resource_bytes(status: StatusCode, body: Vec<u8>, etag: &str, location: Option<&str>) -> HttpResponse {
    let mut builder = HttpResponse::build(status);
    builder.content_type(SCIM_CONTENT_TYPE).insert_header(("ETag", etag.to_owned()));
    if let Some(location) = location {
        builder.insert_header(("Location", location.to_owned()));
    }
    builder.body(body)
}

/// `If-Match` as sent, if any.
pub fn if_match(req: &HttpRequest) -> Option<String> {
    req.headers().get("If-Match").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

pub fn list_response(total: i64, start_index: i64, resources: Vec<Value>) -> Value {
    // Built by hand: `json!` would serialize `resources` into a copy of itself.
    let mut list = Map::new();
    list.insert("schemas".into(), Value::Array(vec![Value::from(LIST_SCHEMA)]));
    list.insert("totalResults".into(), Value::from(total));
    list.insert("startIndex".into(), Value::from(start_index));
    list.insert("itemsPerPage".into(), Value::from(resources.len()));
    list.insert("Resources".into(), Value::Array(resources));
    Value::Object(list)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn user() -> Map<String, Value> {
        json!({
            "id": "1", "schemas": [CORE], "meta": {"resourceType": "User"},
            "userName": "a", "name": {"givenName": "A", "familyName": "B"},
            "emails": [{"value": "a@x.example", "type": "work"}],
            ENT: {"department": "Ops", "employeeNumber": "7"}
        })
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn attributes_keep_only_what_is_asked_plus_id() {
        let mut u = user();
        Projection { attributes: vec!["USERNAME".into(), "name.familyName".into(), format!("{ENT}:department")], excluded: vec![] }.apply(&mut u, CORE);
        assert_eq!(Value::Object(u), json!({"id": "1", "schemas": [CORE], "meta": {"resourceType": "User"}, "userName": "a", "name": {"familyName": "B"}, ENT: {"department": "Ops"}}));
    }

    #[test]
    fn excluded_attributes_are_removed_but_never_id() {
        let mut u = user();
        Projection { attributes: vec![], excluded: vec!["emails".into(), "id".into(), format!("{CORE}:name.givenName"), ENT.into()] }.apply(&mut u, CORE);
        assert_eq!(u["id"], json!("1"));
        assert!(!u.contains_key("emails") && !u.contains_key(ENT));
        assert_eq!(u["name"], json!({"familyName": "B"}));
    }
}
