//! PATCH (RFC 7644 §3.5.2) on a resource's canonical JSON, in Entra's dialect too:
//! `Add`/`Replace`/`Remove` in any case, path-less ops whose keys are paths
//! (`"name.givenName"`, URN-qualified), filtered paths that create the element they do not
//! find, manager in three shapes, removal of listed values only. The caller re-parses the
//! document afterwards, which validates types and required attributes.

use serde_json::{Map, Value};

use super::error::{ScimError, ScimType};
use super::filter::{AttrPath, CompValue, CompareOp, Filter, PatchPath, parse_path};
use super::schema::{self, AttrDef, AttrType, Mutability};
use super::user_json::{canonical_element, parse_manager};
use crate::domain::is_extension_path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

#[derive(Debug, Clone)]
pub struct PatchOp {
    pub kind: OpKind,
    pub path: Option<String>,
    pub value: Option<Value>,
}

pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Reads a PatchOp body; member names and op names in any letter case.
pub fn parse_patch(body: &Value) -> Result<Vec<PatchOp>, ScimError> {
    let syntax = |m: &str| ScimError::bad_request(ScimType::InvalidSyntax, m);
    let object = body.as_object().ok_or_else(|| syntax("the PATCH body must be a JSON object"))?;
    let get = |map: &Map<String, Value>, name: &str| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let operations = get(object, "Operations")
        .ok_or_else(|| syntax("the PATCH body needs an \"Operations\" array (schema urn:ietf:params:scim:api:messages:2.0:PatchOp)"))?;
    let operations = operations.as_array().ok_or_else(|| syntax("\"Operations\" must be an array"))?.clone();
    if operations.is_empty() {
        return Err(syntax("\"Operations\" is empty"));
    }
    operations
        .iter()
        .enumerate()
        .map(|(i, op)| {
            let op = op.as_object().ok_or_else(|| syntax(&format!("operation {} must be an object", i + 1)))?;
            let name = get(op, "op").and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            let kind = match name.to_ascii_lowercase().as_str() {
                "add" => OpKind::Add,
                "replace" => OpKind::Replace,
                "remove" => OpKind::Remove,
                _ => return Err(ScimError::invalid_value(format!("operation {}: \"op\" must be add, replace or remove, not {name:?}", i + 1))),
            };
            let path = match get(op, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) if p.trim().is_empty() => None,
                Some(Value::String(p)) => Some(p),
                Some(_) => return Err(ScimError::invalid_path(format!("operation {}: \"path\" must be a string", i + 1))),
            };
            Ok(PatchOp { kind, path, value: get(op, "value") })
        })
        .collect()
}

/// What a resource type's schema looks like to the applier.
pub struct ResourceSchema {
    pub core_urn: &'static str,
    pub core: &'static [AttrDef],
    /// Extension URN with its attributes (`None` = accept any attribute, kept as sent).
    pub extensions: &'static [(&'static str, &'static [AttrDef])],
}

/// Where a path points, resolved against the schema.
struct Target<'s> {
    /// `None` = top level, else the extension URN object holding the attribute.
    container: Option<String>,
    def: Option<&'s AttrDef>,
    name: String,
    filter: Option<Filter>,
    sub: Option<String>,
}

/// Applies `ops` in order to `doc`. Stops at the first failing operation (the caller
/// discards the document, so nothing is applied: atomic).
pub fn apply(doc: &mut Map<String, Value>, ops: &[PatchOp], schema: &ResourceSchema) -> Result<(), ScimError> {
    for (i, op) in ops.iter().enumerate() {
        apply_one(doc, op, schema).map_err(|mut e| {
            e.detail = format!("operation {} ({}): {}", i + 1, describe(op), e.detail);
            e
        })?;
    }
    Ok(())
}

fn describe(op: &PatchOp) -> String {
    let kind = match op.kind {
        OpKind::Add => "add",
        OpKind::Replace => "replace",
        OpKind::Remove => "remove",
    };
    match &op.path {
        Some(p) => format!("{kind} {p}"),
        None => kind.to_owned(),
    }
}

fn apply_one(doc: &mut Map<String, Value>, op: &PatchOp, schema: &ResourceSchema) -> Result<(), ScimError> {
    match &op.path {
        Some(path) if extension_key(doc, schema, path).is_some() => {
            let key = extension_key(doc, schema, path).unwrap_or_default();
            apply_extension(doc, op.kind, &key, op.value.clone(), schema)
        }
        Some(path) => {
            let target = resolve(path, schema)?;
            apply_target(doc, op.kind, &target, op.value.clone())
        }
        None => {
            if op.kind == OpKind::Remove {
                return Err(ScimError::bad_request(ScimType::NoTarget, "remove needs a \"path\""));
            }
            let Some(Value::Object(values)) = &op.value else {
                return Err(ScimError::invalid_value("an operation without \"path\" needs an object \"value\""));
            };
            for (key, value) in values {
                if is_metadata(key) {
                    continue; // Stray read-only members in the value are ignored, not errors.
                }
                let extension = schema.extensions.iter().find(|(urn, _)| urn.eq_ignore_ascii_case(key));
                match (extension, value) {
                    (Some((urn, _)), Value::Object(attrs)) => {
                        for (name, v) in attrs.iter().filter(|(k, _)| !is_metadata(k)) {
                            let target = resolve(&format!("{urn}:{name}"), schema)?;
                            apply_target(doc, op.kind, &target, Some(v.clone()))?;
                        }
                    }
                    _ => {
                        let target = resolve(key, schema)?;
                        apply_target(doc, op.kind, &target, Some(value.clone()))?;
                    }
                }
            }
            Ok(())
        }
    }
}

/// Members that describe a resource rather than being attributes of it.
fn is_metadata(key: &str) -> bool {
    ["id", "meta", "schemas"].iter().any(|k| key.eq_ignore_ascii_case(k))
}

/// The document key when `path` names a whole extension (`urn:…:enterprise:2.0:User`).
fn extension_key(doc: &Map<String, Value>, schema: &ResourceSchema, path: &str) -> Option<String> {
    let path = path.trim();
    if let Some((urn, _)) = schema.extensions.iter().find(|(urn, _)| urn.eq_ignore_ascii_case(path)) {
        return Some((*urn).to_owned());
    }
    doc.keys().find(|k| k.eq_ignore_ascii_case(path) && is_extension_path(k)).cloned()
}

/// An operation on a whole extension: remove it, or set the attributes of the value object.
fn apply_extension(doc: &mut Map<String, Value>, kind: OpKind, urn: &str, value: Option<Value>, schema: &ResourceSchema) -> Result<(), ScimError> {
    if kind == OpKind::Remove || is_blank(&value) {
        doc.remove(urn);
        return Ok(());
    }
    let Some(Value::Object(attrs)) = value else {
        return Err(ScimError::invalid_value(format!("the value for {urn} must be an object of its attributes")));
    };
    if kind == OpKind::Replace {
        doc.remove(urn);
    }
    for (name, v) in attrs.into_iter().filter(|(k, _)| !is_metadata(k)) {
        let target = resolve(&format!("{urn}:{name}"), schema)?;
        apply_target(doc, kind, &target, Some(v))?;
    }
    Ok(())
}

fn resolve<'s>(path: &str, schema: &'s ResourceSchema) -> Result<Target<'s>, ScimError> {
    let parsed: PatchPath = parse_path(path).map_err(|e| ScimError::invalid_path(format!("bad path {path:?}: {e}")))?;
    let AttrPath { urn, name, sub } = parsed.attr;
    let sub = parsed.sub.or(sub);
    if urn.is_none() && name.eq_ignore_ascii_case("id") {
        return Err(ScimError::bad_request(ScimType::Mutability, "id is assigned by the server and cannot be changed"));
    }
    // Legacy Entra documents send extension attributes without their URN (`"path": "manager"`).
    let urn = match urn {
        None if schema::find(schema.core, &name).is_none() => schema
            .extensions
            .iter()
            .find(|(_, defs)| schema::find(defs, &name).is_some())
            .map(|(u, _)| (*u).to_owned()),
        other => other,
    };
    let (container, defs): (Option<String>, Option<&'s [AttrDef]>) = match &urn {
        None => (None, Some(schema.core)),
        Some(u) if u.eq_ignore_ascii_case(schema.core_urn) => (None, Some(schema.core)),
        Some(u) => match schema.extensions.iter().find(|(urn, _)| urn.eq_ignore_ascii_case(u)) {
            Some((urn, defs)) => (Some((*urn).to_owned()), Some(*defs)),
            None if is_extension_path(u) => (Some(u.clone()), None),
            None => return Err(ScimError::invalid_path(format!("unknown schema {u}"))),
        },
    };
    let def = match defs {
        Some(defs) => {
            let found = schema::find(defs, &name);
            if found.is_none() && !(container.is_none() && name.eq_ignore_ascii_case("externalId")) {
                return Err(ScimError::invalid_path(format!("{name:?} is not an attribute of this resource")));
            }
            found
        }
        None => None,
    };
    if let Some(d) = def {
        if d.mutability == Mutability::ReadOnly {
            return Err(ScimError::bad_request(ScimType::Mutability, format!("{} is read-only", d.name)));
        }
        if parsed.filter.is_some() && !d.multi && d.name != "manager" {
            return Err(ScimError::invalid_path(format!("{} is single-valued: a [filter] cannot select from it", d.name)));
        }
        if let Some(s) = &sub
            && !d.sub.is_empty()
            && schema::find(d.sub, s).is_none()
        {
            return Err(ScimError::invalid_path(format!("{s:?} is not a sub-attribute of {}", d.name)));
        }
    }
    let canonical_sub = match (def, sub) {
        (Some(d), Some(s)) => Some(schema::find(d.sub, &s).map_or(s, |x| x.name.to_owned())),
        (_, s) => s,
    };
    let canonical_name = def.map_or_else(|| if name.eq_ignore_ascii_case("externalId") { "externalId".to_owned() } else { name }, |d| d.name.to_owned());
    Ok(Target { container, def, name: canonical_name, filter: parsed.filter, sub: canonical_sub })
}

/// The object holding the target attribute (top level or an extension), created on demand.
fn container<'d>(doc: &'d mut Map<String, Value>, target: &Target<'_>) -> &'d mut Map<String, Value> {
    let Some(urn) = &target.container else { return doc };
    let slot = doc.entry(urn.clone()).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(map) => map,
        _ => unreachable!("slot was just made an object"),
    }
}

fn is_blank(value: &Option<Value>) -> bool {
    matches!(value, None | Some(Value::Null)) || value.as_ref().and_then(Value::as_str) == Some("")
}

fn apply_target(doc: &mut Map<String, Value>, kind: OpKind, target: &Target<'_>, value: Option<Value>) -> Result<(), ScimError> {
    if target.name == "manager" && target.def.is_some() {
        return apply_manager(container(doc, target), kind, target, value);
    }
    match target.def {
        Some(def) if def.multi => apply_multi(container(doc, target), kind, def, target, value),
        Some(def) if def.ty == AttrType::Complex => apply_complex(container(doc, target), kind, def, target, value),
        _ => {
            let holder = container(doc, target);
            if kind == OpKind::Remove || is_blank(&value) {
                holder.remove(&target.name);
            } else if let Some(v) = value {
                holder.insert(target.name.clone(), v);
            }
            Ok(())
        }
    }
}

fn apply_manager(holder: &mut Map<String, Value>, kind: OpKind, target: &Target<'_>, value: Option<Value>) -> Result<(), ScimError> {
    let current = holder.get("manager").and_then(|m| m.get("value")).and_then(Value::as_str).map(str::to_owned);
    let new = match kind {
        OpKind::Remove => {
            let selected = match (&target.filter, &current) {
                (Some(f), Some(id)) => element_matches(&Map::from_iter([("value".to_owned(), Value::String(id.clone()))]), f),
                _ => true,
            };
            if selected { None } else { current }
        }
        _ => {
            let value = value.unwrap_or(Value::Null);
            // `manager.value` as the path, or the manager in any shape as the value.
            parse_manager(&value)?
        }
    };
    match new {
        Some(id) => holder.insert("manager".into(), serde_json::json!({ "value": id })),
        None => holder.remove("manager"),
    };
    Ok(())
}

fn apply_complex(holder: &mut Map<String, Value>, kind: OpKind, def: &AttrDef, target: &Target<'_>, value: Option<Value>) -> Result<(), ScimError> {
    let entry = holder.entry(def.name.to_owned()).or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    let Value::Object(parts) = entry else { return Ok(()) };
    match (&target.sub, kind) {
        (Some(sub), OpKind::Remove) => {
            parts.remove(sub);
        }
        (Some(sub), _) if is_blank(&value) => {
            parts.remove(sub);
        }
        (Some(sub), _) => {
            parts.insert(sub.clone(), value.unwrap_or(Value::Null));
        }
        (None, OpKind::Remove) => parts.clear(),
        (None, _) => match value {
            Some(Value::Object(new_parts)) => {
                for (k, v) in new_parts {
                    let name = schema::find(def.sub, &k).map_or(k, |s| s.name.to_owned());
                    if v.is_null() || v.as_str() == Some("") {
                        parts.remove(&name);
                    } else {
                        parts.insert(name, v);
                    }
                }
            }
            None | Some(Value::Null) => parts.clear(),
            Some(_) => return Err(ScimError::invalid_value(format!("{} must be an object", def.name))),
        },
    }
    if parts.is_empty() {
        holder.remove(def.name);
    }
    Ok(())
}

fn elements_of(value: Option<Value>, def: &AttrDef) -> Result<Vec<Map<String, Value>>, ScimError> {
    let items = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => vec![other],
    };
    let mut out = Vec::new();
    for item in &items {
        let element = canonical_element(def, item)?;
        if !element.is_empty() {
            out.push(element);
        }
    }
    Ok(out)
}

fn apply_multi(holder: &mut Map<String, Value>, kind: OpKind, def: &AttrDef, target: &Target<'_>, value: Option<Value>) -> Result<(), ScimError> {
    let mut list: Vec<Map<String, Value>> = match holder.remove(def.name) {
        Some(Value::Array(items)) => items.into_iter().filter_map(|v| match v { Value::Object(m) => Some(m), _ => None }).collect(),
        _ => Vec::new(),
    };
    let selected: Vec<bool> = list.iter().map(|e| target.filter.as_ref().is_none_or(|f| element_matches(e, f))).collect();
    match (&target.sub, kind) {
        // Remove listed values only (Entra: {"op":"Remove","path":"members","value":[{"value":id}]}).
        (None, OpKind::Remove) if target.filter.is_none() && !is_blank(&value) => {
            let listed = elements_of(value, def)?;
            list.retain(|e| !listed.iter().any(|l| same_value(l.get("value"), e.get("value"))));
        }
        (None, OpKind::Remove) => list = keep_unselected(list, &selected),
        (None, OpKind::Add) if target.filter.is_none() => {
            for element in elements_of(value, def)? {
                // Adding an element that is already there (same value) updates it instead.
                match list.iter_mut().find(|e| same_value(e.get("value"), element.get("value")) && element.contains_key("value")) {
                    Some(existing) => existing.extend(element),
                    None => list.push(element),
                }
            }
        }
        (None, OpKind::Replace) if target.filter.is_none() => list = elements_of(value, def)?,
        (None, _) => {
            // attr[filter] with a whole element as value: merge into the matching elements.
            let replacement = elements_of(value, def)?.into_iter().next().unwrap_or_default();
            for (element, _) in list.iter_mut().zip(&selected).filter(|(_, s)| **s) {
                element.extend(replacement.clone());
            }
        }
        (Some(sub), OpKind::Remove) => {
            for (element, _) in list.iter_mut().zip(&selected).filter(|(_, s)| **s) {
                element.remove(sub);
            }
        }
        (Some(sub), _) => set_sub_attribute(&mut list, &selected, def, target, sub, value)?,
    }
    list.retain(|e| !e.is_empty() && !(e.len() == 1 && e.contains_key("primary")));
    if !list.is_empty() {
        holder.insert(def.name.to_owned(), Value::Array(list.into_iter().map(Value::Object).collect()));
    }
    Ok(())
}

fn keep_unselected(list: Vec<Map<String, Value>>, selected: &[bool]) -> Vec<Map<String, Value>> {
    list.into_iter().zip(selected).filter(|(_, s)| !**s).map(|(e, _)| e).collect()
}

/// `emails[type eq "work"].value = v`: set on every matching element; when none matches,
/// create one from the filter's equalities (what Entra and its validator expect).
fn set_sub_attribute(
    list: &mut Vec<Map<String, Value>>,
    selected: &[bool],
    def: &AttrDef,
    target: &Target<'_>,
    sub: &str,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let value = match value {
        Some(v) if !is_blank(&Some(v.clone())) => {
            let probe = canonical_element(def, &Value::Object(Map::from_iter([(sub.to_owned(), v)])))?;
            probe.get(sub).cloned()
        }
        _ => None,
    };
    let Some(value) = value else {
        // A blank value clears: drop the whole element when its `value` is cleared.
        let mut i = 0;
        list.retain(|_| {
            let keep = !selected.get(i).copied().unwrap_or(false) || sub != "value";
            i += 1;
            keep
        });
        for (element, _) in list.iter_mut().zip(selected).filter(|(_, s)| **s) {
            element.remove(sub);
        }
        return Ok(());
    };
    if selected.iter().any(|s| *s) {
        for (element, _) in list.iter_mut().zip(selected).filter(|(_, s)| **s) {
            element.insert(sub.to_owned(), value.clone());
        }
    } else {
        let mut element = Map::new();
        if let Some(filter) = &target.filter {
            equalities(filter, &mut element);
        }
        let mut element = canonical_element(def, &Value::Object(element))?;
        element.insert(sub.to_owned(), value);
        list.push(element);
    }
    Ok(())
}

/// The `attr eq value` conjuncts of a filter, as element fields.
fn equalities(filter: &Filter, into: &mut Map<String, Value>) {
    match filter {
        Filter::Compare(path, CompareOp::Eq, value) if path.sub.is_none() => {
            into.insert(path.name.clone(), comp_to_json(value));
        }
        Filter::And(a, b) => {
            equalities(a, into);
            equalities(b, into);
        }
        _ => {}
    }
}

fn comp_to_json(value: &CompValue) -> Value {
    match value {
        CompValue::Null => Value::Null,
        CompValue::Bool(b) => Value::Bool(*b),
        CompValue::Number(n) => Value::Number(n.clone()),
        CompValue::String(s) => Value::String(s.clone()),
    }
}

fn same_value(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(Value::String(x)), Some(Value::String(y))) => x.eq_ignore_ascii_case(y),
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Evaluates a value filter against one element of a multi-valued attribute. Strings compare
/// case-insensitively; Entra's `"True"` matches a boolean `true`.
pub fn element_matches(element: &Map<String, Value>, filter: &Filter) -> bool {
    match filter {
        Filter::And(a, b) => element_matches(element, a) && element_matches(element, b),
        Filter::Or(a, b) => element_matches(element, a) || element_matches(element, b),
        Filter::Not(f) => !element_matches(element, f),
        Filter::ValuePath(_, f) => element_matches(element, f),
        Filter::Present(path) => field(element, path).is_some_and(|v| !v.is_null()),
        Filter::Compare(path, op, expected) => match field(element, path) {
            None => *op == CompareOp::Ne,
            Some(actual) => compare(actual, *op, expected),
        },
    }
}

fn field<'e>(element: &'e Map<String, Value>, path: &AttrPath) -> Option<&'e Value> {
    element.iter().find(|(k, _)| k.eq_ignore_ascii_case(&path.name)).map(|(_, v)| v)
}

fn compare(actual: &Value, op: CompareOp, expected: &CompValue) -> bool {
    use std::cmp::Ordering;
    let ordering: Option<Ordering> = match (actual, expected) {
        (Value::Bool(a), CompValue::Bool(b)) => Some(a.cmp(b)),
        (Value::Bool(a), CompValue::String(s)) => s.parse::<bool>().ok().or_else(|| match s.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }).map(|b| a.cmp(&b)),
        (Value::String(a), CompValue::String(b)) => {
            let (a, b) = (a.to_lowercase(), b.to_lowercase());
            return match op {
                CompareOp::Co => a.contains(&b),
                CompareOp::Sw => a.starts_with(&b),
                CompareOp::Ew => a.ends_with(&b),
                _ => ordered(a.cmp(&b), op),
            };
        }
        (Value::Number(a), CompValue::Number(b)) => a.as_f64().zip(b.as_f64()).and_then(|(x, y)| x.partial_cmp(&y)),
        (Value::Null, CompValue::Null) => Some(Ordering::Equal),
        _ => None,
    };
    match ordering {
        Some(o) => ordered(o, op),
        None => op == CompareOp::Ne,
    }
}

fn ordered(ordering: std::cmp::Ordering, op: CompareOp) -> bool {
    use std::cmp::Ordering::*;
    match op {
        CompareOp::Eq => ordering == Equal,
        CompareOp::Ne => ordering != Equal,
        CompareOp::Gt => ordering == Greater,
        CompareOp::Ge => ordering != Less,
        CompareOp::Lt => ordering == Less,
        CompareOp::Le => ordering != Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => ordering == Equal,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::schema::{ENTERPRISE_ATTRIBUTES, ENTERPRISE_SCHEMA, USER_ATTRIBUTES, USER_SCHEMA};

    const SCHEMA: ResourceSchema = ResourceSchema {
        core_urn: USER_SCHEMA,
        core: USER_ATTRIBUTES,
        extensions: &[(ENTERPRISE_SCHEMA, ENTERPRISE_ATTRIBUTES)],
    };

    fn doc() -> Map<String, Value> {
        json!({
            "userName": "a@x.example",
            "active": true,
            "name": {"givenName": "Ana", "familyName": "Lopez"},
            "emails": [{"value": "a@x.example", "type": "work", "primary": true}, {"value": "h@x.example", "type": "home"}],
            ENTERPRISE_SCHEMA: {"department": "Ops", "manager": {"value": "m1"}}
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    fn run(ops: Value) -> Result<Map<String, Value>, ScimError> {
        let ops = parse_patch(&json!({"schemas": [PATCH_SCHEMA], "Operations": ops}))?;
        let mut d = doc();
        apply(&mut d, &ops, &SCHEMA)?;
        Ok(d)
    }

    #[test]
    fn ops_in_any_case_and_string_booleans() {
        let d = run(json!([{"op": "Replace", "path": "active", "value": "False"}, {"op": "ADD", "path": "nickName", "value": "Nana"}])).unwrap();
        assert_eq!(d["active"], json!("False"), "the document keeps the value; parse_user coerces it");
        assert_eq!(d["nickName"], json!("Nana"));
    }

    #[test]
    fn pathless_dotted_and_urn_keys_set_the_right_attributes() {
        let d = run(json!([{"op": "add", "value": {"name.givenName": "Ann", (format!("{ENTERPRISE_SCHEMA}:department")): "R&D", "id": "ignored"}}])).unwrap();
        assert_eq!(d["name"]["givenName"], json!("Ann"));
        assert_eq!(d[ENTERPRISE_SCHEMA]["department"], json!("R&D"));
        assert!(!d.contains_key("name.givenName") && !d.contains_key("id"));
    }

    #[test]
    fn filtered_path_updates_the_match_or_creates_the_element() {
        let d = run(json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "w@x.example"}])).unwrap();
        assert_eq!(d["emails"][0]["value"], json!("w@x.example"));
        assert_eq!(d["emails"][1]["value"], json!("h@x.example"));
        let d = run(json!([{"op": "replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555"}])).unwrap();
        assert_eq!(d["phoneNumbers"], json!([{"type": "mobile", "value": "+1 555"}]));
        let d = run(json!([{"op": "add", "path": "roles[primary eq \"True\"].value", "value": "Admin"}])).unwrap();
        assert_eq!(d["roles"], json!([{"primary": true, "value": "Admin"}]));
    }

    #[test]
    fn remove_takes_only_listed_values_or_matches() {
        let d = run(json!([{"op": "Remove", "path": "emails", "value": [{"value": "H@x.example"}]}])).unwrap();
        assert_eq!(d["emails"].as_array().unwrap().len(), 1);
        let d = run(json!([{"op": "remove", "path": "emails[type eq \"work\"]"}])).unwrap();
        assert_eq!(d["emails"], json!([{"value": "h@x.example", "type": "home"}]));
        let d = run(json!([{"op": "remove", "path": "emails"}])).unwrap();
        assert!(!d.contains_key("emails"));
    }

    #[test]
    fn manager_shapes_and_removals() {
        for value in [json!("m2"), json!({"value": "m2"}), json!([{"$ref": "x", "value": "m2"}])] {
            let d = run(json!([{"op": "Add", "path": "manager", "value": value}])).unwrap();
            assert_eq!(d[ENTERPRISE_SCHEMA]["manager"], json!({"value": "m2"}));
        }
        let d = run(json!([{"op": "remove", "path": "manager[value eq \"other\"]"}])).unwrap();
        assert_eq!(d[ENTERPRISE_SCHEMA]["manager"], json!({"value": "m1"}), "a filter that does not match removes nothing");
        let d = run(json!([{"op": "remove", "path": "manager[value eq \"m1\"]"}])).unwrap();
        assert!(d[ENTERPRISE_SCHEMA].get("manager").is_none());
        let d = run(json!([{"op": "replace", "path": (format!("{ENTERPRISE_SCHEMA}:manager")), "value": {"value": ""}}])).unwrap();
        assert!(d[ENTERPRISE_SCHEMA].get("manager").is_none());
    }

    #[test]
    fn null_and_empty_clear() {
        let d = run(json!([{"op": "replace", "path": "name.familyName", "value": ""}, {"op": "replace", "path": "active", "value": null}])).unwrap();
        assert!(d["name"].get("familyName").is_none());
        assert!(!d.contains_key("active"));
    }

    #[test]
    fn errors_carry_the_right_scim_type() {
        let kind = |ops: Value| run(ops).unwrap_err().scim_type;
        assert_eq!(kind(json!([{"op": "remove"}])), Some(ScimType::NoTarget));
        assert_eq!(kind(json!([{"op": "replace", "path": "id", "value": "x"}])), Some(ScimType::Mutability));
        assert_eq!(kind(json!([{"op": "replace", "path": "groups", "value": []}])), Some(ScimType::Mutability));
        assert_eq!(kind(json!([{"op": "replace", "path": "nosuch", "value": 1}])), Some(ScimType::InvalidPath));
        assert_eq!(kind(json!([{"op": "replace", "path": "emails[type eq", "value": 1}])), Some(ScimType::InvalidPath));
        assert_eq!(kind(json!([{"op": "replace", "path": "userName[type eq \"x\"]", "value": 1}])), Some(ScimType::InvalidPath));
        assert_eq!(kind(json!([{"op": "frobnicate", "path": "userName"}])), Some(ScimType::InvalidValue));
        assert_eq!(kind(json!([{"op": "add", "value": "not an object"}])), Some(ScimType::InvalidValue));
        assert!(parse_patch(&json!({"Operations": []})).is_err());
        assert!(parse_patch(&json!({"operations": [{"op": "add", "path": "nickName", "value": "x"}]})).is_ok(), "member names in any case");
    }

    #[test]
    fn hostile_input_never_panics() {
        // A deterministic xorshift walk over fragments of paths, ops and values.
        let fragments = ["emails", "[", "]", "type eq \"work\"", ".value", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:", "manager", "name.", "givenName", "\"", " and ", "(", ")", "not", "members", "$ref", ".", ":", "id", "pr"];
        let values = [json!(null), json!(""), json!("x"), json!(1), json!(true), json!([]), json!([{"value": 1}]), json!({"a": {"b": []}}), json!([null, "s", {"primary": "maybe"}])];
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..5_000 {
            let path: String = (0..(next() % 6)).map(|_| fragments[(next() % fragments.len() as u64) as usize]).collect();
            let op = ["add", "Replace", "remove", "REMOVE"][(next() % 4) as usize];
            let value = values[(next() % values.len() as u64) as usize].clone();
            let _ = run(json!([{"op": op, "path": path, "value": value}]));
            let _ = run(json!([{"op": op, "value": {path: value}}]));
        }
    }
}
