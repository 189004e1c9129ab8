//! User resources on the wire: JSON (any key case, Entra's string booleans, manager in three
//! shapes) to [`UserAttributes`], and back to canonical JSON.

use serde_json::{Map, Value, json};

use super::error::ScimError;
use super::schema::{self, AttrDef, AttrType, ENTERPRISE_ATTRIBUTES, ENTERPRISE_SCHEMA, USER_ATTRIBUTES, USER_SCHEMA};
use crate::domain::UserAttributes;

/// Parses a full User representation (POST, PUT, or the document a PATCH produced).
pub fn parse_user(body: &Value) -> Result<UserAttributes, ScimError> {
    let object = body
        .as_object()
        .ok_or_else(|| ScimError::bad_request(super::error::ScimType::InvalidSyntax, "the request body must be a JSON object"))?;
    let mut user = UserAttributes::default();
    let mut user_name = None;
    apply_core(&mut user, &mut user_name, object)?;
    for (key, value) in object {
        if !key.to_ascii_lowercase().starts_with("urn:") || key.eq_ignore_ascii_case(USER_SCHEMA) {
            continue;
        }
        if value.is_null() {
            continue;
        }
        let attrs = value.as_object().ok_or_else(|| {
            ScimError::invalid_value(format!("extension {key} must be a JSON object of attributes"))
        })?;
        if key.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) {
            apply_enterprise(&mut user, attrs)?;
        } else {
            for (name, v) in attrs.iter().filter(|(_, v)| !is_empty(v)) {
                user.scalars.insert(format!("{key}:{name}"), v.clone());
            }
        }
    }
    user.user_name = user_name
        .ok_or_else(|| ScimError::invalid_value("userName is required and must be a non-empty string"))?;
    Ok(user)
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_empty),
        _ => false,
    }
}

/// Core attributes: top-level keys and those nested under the core schema URN.
fn apply_core(user: &mut UserAttributes, user_name: &mut Option<String>, object: &Map<String, Value>) -> Result<(), ScimError> {
    for (key, value) in object {
        if key.eq_ignore_ascii_case(USER_SCHEMA) {
            if let Some(nested) = value.as_object() {
                apply_core(user, user_name, nested)?;
            }
            continue;
        }
        let Some(def) = schema::find(USER_ATTRIBUTES, key) else { continue };
        match def.name {
            "userName" => *user_name = optional_string(def.name, value)?,
            "externalId" => {}
            "active" => {
                user.active = if value.is_null() { None } else { Some(parse_bool("active", value)?) };
            }
            "name" => apply_name(user, value)?,
            "password" | "groups" => {}
            _ if def.multi => {
                let elements = parse_multi(def, value)?;
                if elements.is_empty() {
                    user.multi.remove(def.name);
                } else {
                    user.multi.insert(def.name.to_owned(), elements);
                }
            }
            "displayName" => user.display_name = optional_string(def.name, value)?,
            "title" => user.title = optional_string(def.name, value)?,
            "preferredLanguage" => user.preferred_language = optional_string(def.name, value)?,
            other => set_scalar(user, other.to_owned(), optional_string(other, value)?),
        }
    }
    // externalId is common to all resources, not part of the User schema's attribute list.
    if let Some((_, value)) = object.iter().find(|(k, _)| k.eq_ignore_ascii_case("externalId")) {
        user.external_id = optional_string("externalId", value)?;
    }
    Ok(())
}

fn set_scalar(user: &mut UserAttributes, path: String, value: Option<String>) {
    match value {
        Some(v) => user.scalars.insert(path, Value::String(v)),
        None => user.scalars.remove(&path),
    };
}

fn apply_name(user: &mut UserAttributes, value: &Value) -> Result<(), ScimError> {
    if value.is_null() {
        return Ok(());
    }
    let parts = value.as_object().ok_or_else(|| ScimError::invalid_value("name must be an object"))?;
    let name_def = schema::find(USER_ATTRIBUTES, "name").map(|d| d.sub).unwrap_or_default();
    for (key, v) in parts {
        let Some(def) = schema::find(name_def, key) else { continue };
        let parsed = optional_string(&format!("name.{}", def.name), v)?;
        match def.name {
            "givenName" => user.given_name = parsed,
            "familyName" => user.family_name = parsed,
            other => set_scalar(user, format!("name.{other}"), parsed),
        }
    }
    Ok(())
}

fn apply_enterprise(user: &mut UserAttributes, attrs: &Map<String, Value>) -> Result<(), ScimError> {
    for (key, value) in attrs {
        let Some(def) = schema::find(ENTERPRISE_ATTRIBUTES, key) else { continue };
        if def.name == "manager" {
            user.manager = parse_manager(value)?;
        } else {
            let parsed = optional_string(def.name, value)?;
            set_scalar(user, format!("{ENTERPRISE_SCHEMA}:{}", def.name), parsed);
        }
    }
    Ok(())
}

/// Entra sends the manager as a bare id, `{"value": id}` or `[{"value": id, "$ref": …}]`;
/// `""`, `{"value": ""}` and `null` clear it.
pub fn parse_manager(value: &Value) -> Result<Option<String>, ScimError> {
    let id = match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => match o.iter().find(|(k, _)| k.eq_ignore_ascii_case("value")).map(|(_, v)| v) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(ScimError::invalid_value("manager.value must be a string id")),
        },
        Value::Array(items) => match items.as_slice() {
            [] => None,
            [one] => parse_manager(one)?,
            _ => return Err(ScimError::invalid_value("manager takes a single value")),
        },
        _ => return Err(ScimError::invalid_value("manager must be an id string or {\"value\": id}")),
    };
    Ok(id.filter(|s| !s.is_empty()))
}

fn parse_multi(def: &AttrDef, value: &Value) -> Result<Vec<Map<String, Value>>, ScimError> {
    let items: Vec<&Value> = match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![value],
        _ => return Err(ScimError::invalid_value(format!("{} must be an array of objects", def.name))),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let element = canonical_element(def, item)?;
        if !element.is_empty() {
            out.push(element);
        }
    }
    Ok(out)
}

/// One element of a multi-valued attribute with canonical sub-attribute names; `primary`
/// accepts Entra's `"True"`/`"False"`; nulls are dropped; unknown keys are kept as sent.
pub fn canonical_element(def: &AttrDef, item: &Value) -> Result<Map<String, Value>, ScimError> {
    let Some(fields) = item.as_object() else {
        // A bare value (`"emails": ["a@b.c"]`) is the element's value.
        return match item {
            Value::String(s) if !s.is_empty() => Ok(Map::from_iter([("value".to_owned(), item.clone())])),
            Value::Null => Ok(Map::new()),
            Value::String(_) => Ok(Map::new()),
            _ => Err(ScimError::invalid_value(format!("{} elements must be objects", def.name))),
        };
    };
    let mut element = Map::new();
    for (key, v) in fields {
        if v.is_null() || v.as_str() == Some("") {
            continue;
        }
        let sub = schema::find(def.sub, key);
        let name = sub.map_or(key.as_str(), |s| s.name);
        let v = match sub {
            Some(s) if s.ty == AttrType::Boolean => Value::Bool(parse_bool(&format!("{}.{name}", def.name), v)?),
            _ => v.clone(),
        };
        element.insert(name.to_owned(), v);
    }
    Ok(element)
}

/// JSON booleans and Entra's string booleans (`"True"`, `"false"`, any case).
pub fn parse_bool(attribute: &str, value: &Value) -> Result<bool, ScimError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(ScimError::invalid_value(format!("{attribute} must be true or false, not {other}"))),
    }
}

/// A single-valued string attribute; `null` and `""` mean "no value".
fn optional_string(attribute: &str, value: &Value) -> Result<Option<String>, ScimError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        _ => Err(ScimError::invalid_value(format!("{attribute} must be a string"))),
    }
}

/// Canonical JSON of the attributes (no `id`/`meta`; the caller adds them).
pub fn render_user(user: &UserAttributes) -> Map<String, Value> {
    let mut out = Map::with_capacity(16); // a person has ~10 top-level attributes, plus id and meta
    let mut schemas = vec![Value::String(USER_SCHEMA.to_owned())];
    out.insert("userName".into(), json!(user.user_name));
    if let Some(active) = user.active {
        out.insert("active".into(), json!(active));
    }
    let mut put = |key: &str, value: &Option<String>| {
        if let Some(v) = value {
            out.insert(key.to_owned(), json!(v));
        }
    };
    put("externalId", &user.external_id);
    put("displayName", &user.display_name);
    put("title", &user.title);
    put("preferredLanguage", &user.preferred_language);

    let mut name = Map::new();
    if let Some(v) = &user.given_name {
        name.insert("givenName".into(), json!(v));
    }
    if let Some(v) = &user.family_name {
        name.insert("familyName".into(), json!(v));
    }
    let mut enterprise = Map::new();
    if let Some(id) = &user.manager {
        enterprise.insert("manager".into(), json!({ "value": id }));
    }
    let mut custom: Map<String, Value> = Map::new();
    for (path, value) in &user.scalars {
        if let Some(sub) = path.strip_prefix("name.") {
            name.insert(sub.to_owned(), value.clone());
        } else if let Some(attr) = path.strip_prefix(ENTERPRISE_SCHEMA).and_then(|p| p.strip_prefix(':')) {
            enterprise.insert(attr.to_owned(), value.clone());
        } else if let Some((urn, attr)) = path.rsplit_once(':').filter(|_| path.starts_with("urn:")) {
            let entry = custom.entry(urn.to_owned()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(map) = entry {
                map.insert(attr.to_owned(), value.clone());
            }
        } else {
            out.insert(path.clone(), value.clone());
        }
    }
    if !name.is_empty() {
        out.insert("name".into(), Value::Object(name));
    }
    for (attr, elements) in &user.multi {
        out.insert(attr.clone(), Value::Array(elements.iter().cloned().map(Value::Object).collect()));
    }
    if !enterprise.is_empty() {
        schemas.push(json!(ENTERPRISE_SCHEMA));
        out.insert(ENTERPRISE_SCHEMA.into(), Value::Object(enterprise));
    }
    for (urn, attrs) in custom {
        schemas.push(json!(urn));
        out.insert(urn, attrs);
    }
    out.insert("schemas".into(), Value::Array(schemas));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entra_post() -> Value {
        json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "externalId": "ines.moreau",
            "userName": "ines.moreau@acme.example",
            "active": "True",
            "displayName": "Ines Moreau",
            "title": "Site Lead",
            "emails": [{"Primary": "True", "type": "work", "Value": "ines.moreau@acme.example"}],
            "name": {"formatted": "Ines Moreau", "GivenName": "Ines", "familyName": "Moreau"},
            "phoneNumbers": [{"type": "mobile", "value": "+33 6 00 00 00 17"}],
            ENTERPRISE_SCHEMA: {"department": "Operations", "employeeNumber": "E-20931", "manager": "m-1"},
            "urn:ietf:params:scim:schemas:extension:acme:2.0:User": {"costBand": "B3", "level": 4},
            "meta": {"resourceType": "User"},
            "roles": [],
            "nickName": null
        })
    }

    #[test]
    fn entra_post_parses_with_string_booleans_and_any_key_case() {
        let user = parse_user(&entra_post()).unwrap();
        assert_eq!(user.user_name, "ines.moreau@acme.example");
        assert_eq!(user.active, Some(true));
        assert_eq!(user.given_name.as_deref(), Some("Ines"));
        assert_eq!(user.manager.as_deref(), Some("m-1"));
        assert_eq!(user.multi["emails"][0]["primary"], json!(true));
        assert_eq!(user.multi["emails"][0]["value"], json!("ines.moreau@acme.example"));
        assert!(!user.multi.contains_key("roles"));
        assert_eq!(user.scalars["name.formatted"], json!("Ines Moreau"));
        assert_eq!(user.scalars[&format!("{ENTERPRISE_SCHEMA}:department")], json!("Operations"));
        assert_eq!(user.scalars["urn:ietf:params:scim:schemas:extension:acme:2.0:User:level"], json!(4));
    }

    #[test]
    fn render_then_parse_is_the_identity() {
        let user = parse_user(&entra_post()).unwrap();
        let rendered = Value::Object(render_user(&user));
        assert_eq!(rendered[ENTERPRISE_SCHEMA]["manager"], json!({"value": "m-1"}));
        assert_eq!(rendered["phoneNumbers"][0]["value"], json!("+33 6 00 00 00 17"));
        assert_eq!(parse_user(&rendered).unwrap(), user);
    }

    #[test]
    fn manager_shapes_and_bad_values() {
        assert_eq!(parse_manager(&json!("x")).unwrap().as_deref(), Some("x"));
        assert_eq!(parse_manager(&json!({"Value": "x"})).unwrap().as_deref(), Some("x"));
        assert_eq!(parse_manager(&json!([{"$ref": "u", "value": "x"}])).unwrap().as_deref(), Some("x"));
        assert_eq!(parse_manager(&json!("")).unwrap(), None);
        assert_eq!(parse_manager(&json!({"value": ""})).unwrap(), None);
        assert!(parse_manager(&json!(5)).is_err());
        assert!(parse_user(&json!({"userName": ""})).is_err());
        assert!(parse_user(&json!({"userName": "a", "active": "maybe"})).is_err());
        assert!(parse_user(&json!({"userName": "a", "emails": "x@y.z"})).is_err());
        assert!(parse_user(&json!([1])).is_err());
    }
}
