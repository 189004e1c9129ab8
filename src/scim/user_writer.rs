//! A person's SCIM representation written straight to JSON bytes.
//!
//! `users::user_resource` builds the representation as a `serde_json::Value` (an `IndexMap`
//! per object, every string copied, every key hashed), serializes it and drops it: ~50,000 of
//! the ~533,000 instructions of a whole `POST /Users`. This writes the same bytes from
//! references: the keys in the same order, and a key that comes twice (an attribute that
//! also arrived under another path) keeps its first place and its last value, as a map insert
//! does. Debug builds (every test) compare each answer with the `Value` path.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::http::LIST_SCHEMA;
use super::schema::{ENTERPRISE_SCHEMA, USER_SCHEMA};
use super::users::{rfc3339, user_location};
use crate::domain::UserAttributes;
use crate::models::user::User;
use crate::provisioning::users::etag;

/// Most attributes a person may have for this writer: its objects find a key again by a
/// linear scan (cheaper than hashing for the ~10 keys of a real person), quadratic in their
/// size. A person with more (a body can carry thousands of extension attributes) goes
/// through the `Value` path, whose maps are hashed.
const MOST_ATTRIBUTES: usize = 64;

/// The representation of `user` (`users::user_resource`), as JSON bytes; `None` for a person
/// with more than `MOST_ATTRIBUTES` attributes (the caller renders them as a `Value`).
pub fn user_resource_json(user: &User, base_url: &str) -> Option<Vec<u8>> {
    fits(user).then(|| serde_json::to_vec(&Resource { user, base_url }).unwrap_or_default())
}

/// A page of people as a ListResponse (`http::list_response` of their representations), as
/// JSON bytes; `None` when one of them has more than `MOST_ATTRIBUTES` attributes.
pub fn user_list_json(total: i64, start_index: i64, users: &[User], base_url: &str) -> Option<Vec<u8>> {
    users.iter().all(fits).then(|| serde_json::to_vec(&List { total, start_index, users, base_url }).unwrap_or_default())
}

fn fits(user: &User) -> bool {
    user.attributes.scalars.len() + user.attributes.multi.len() <= MOST_ATTRIBUTES
}

struct List<'a> {
    total: i64,
    start_index: i64,
    users: &'a [User],
    base_url: &'a str,
}

impl Serialize for List<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry("schemas", &[LIST_SCHEMA])?;
        map.serialize_entry("totalResults", &self.total)?;
        map.serialize_entry("startIndex", &self.start_index)?;
        map.serialize_entry("itemsPerPage", &self.users.len())?;
        map.serialize_entry("Resources", &Resources { users: self.users, base_url: self.base_url })?;
        map.end()
    }
}

struct Resources<'a> {
    users: &'a [User],
    base_url: &'a str,
}

impl Serialize for Resources<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.users.iter().map(|user| Resource { user, base_url: self.base_url }))
    }
}

struct Resource<'a> {
    user: &'a User,
    base_url: &'a str,
}

/// An object's entries in insertion order; inserting a key again replaces its value in place.
struct Object<'a>(Vec<(&'a str, Entry<'a>)>);

impl<'a> Object<'a> {
    fn with_capacity(n: usize) -> Self {
        Object(Vec::with_capacity(n))
    }

    fn insert(&mut self, key: &'a str, value: Entry<'a>) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

enum Entry<'a> {
    Str(&'a str),
    Bool(bool),
    Json(&'a Value),
    Elements(&'a [Map<String, Value>]),
    Object(Object<'a>),
    /// `{"value": …}`, as the enterprise `manager` is shown.
    ValueOf(&'a str),
    Strings(Vec<&'a str>),
    Groups(&'a [(String, String)], &'a str),
}

impl Serialize for Object<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl Serialize for Entry<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Entry::Str(s) => serializer.serialize_str(s),
            Entry::Bool(b) => serializer.serialize_bool(*b),
            Entry::Json(v) => v.serialize(serializer),
            Entry::Elements(elements) => elements.serialize(serializer),
            Entry::Object(object) => object.serialize(serializer),
            Entry::ValueOf(id) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("value", id)?;
                map.end()
            }
            Entry::Strings(strings) => strings.serialize(serializer),
            Entry::Groups(groups, base_url) => serializer.collect_seq(groups.iter().map(|(id, name)| Group { id, name, base_url })),
        }
    }
}

struct Group<'a> {
    id: &'a str,
    name: &'a str,
    base_url: &'a str,
}

impl Serialize for Group<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("value", self.id)?;
        map.serialize_entry("display", self.name)?;
        map.serialize_entry("$ref", &format!("{}/Groups/{}", self.base_url, self.id))?;
        map.serialize_entry("type", "direct")?;
        map.end()
    }
}

impl Serialize for Resource<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let row = &self.user.row;
        let location = user_location(self.base_url, &row.scim_id);
        let (created, last_modified, version) = (rfc3339(row.created_at), rfc3339(row.updated_at), etag(row.version));
        let mut out = attributes(&self.user.attributes);
        out.insert("id", Entry::Str(&self.user.row.scim_id));
        if !self.user.groups.is_empty() {
            out.insert("groups", Entry::Groups(&self.user.groups, self.base_url));
        }
        let mut meta = Object::with_capacity(5);
        meta.insert("resourceType", Entry::Str("User"));
        meta.insert("created", Entry::Str(&created));
        meta.insert("lastModified", Entry::Str(&last_modified));
        meta.insert("location", Entry::Str(&location));
        meta.insert("version", Entry::Str(&version));
        out.insert("meta", Entry::Object(meta));
        out.serialize(serializer)
    }
}

/// What `user_json::render_user` makes of `user`, entry for entry.
fn attributes(user: &UserAttributes) -> Object<'_> {
    let mut out = Object::with_capacity(16);
    let mut schemas = vec![USER_SCHEMA];
    out.insert("userName", Entry::Str(&user.user_name));
    if let Some(active) = user.active {
        out.insert("active", Entry::Bool(active));
    }
    for (key, value) in [
        ("externalId", &user.external_id),
        ("displayName", &user.display_name),
        ("title", &user.title),
        ("preferredLanguage", &user.preferred_language),
    ] {
        if let Some(v) = value {
            out.insert(key, Entry::Str(v));
        }
    }
    let mut name = Object::with_capacity(4);
    if let Some(v) = &user.given_name {
        name.insert("givenName", Entry::Str(v));
    }
    if let Some(v) = &user.family_name {
        name.insert("familyName", Entry::Str(v));
    }
    let mut enterprise = Object::with_capacity(4);
    if let Some(id) = &user.manager {
        enterprise.insert("manager", Entry::ValueOf(id));
    }
    let mut custom: Vec<(&str, Object<'_>)> = Vec::new();
    for (path, value) in &user.scalars {
        if let Some(sub) = path.strip_prefix("name.") {
            name.insert(sub, Entry::Json(value));
        } else if let Some(attr) = path.strip_prefix(ENTERPRISE_SCHEMA).and_then(|p| p.strip_prefix(':')) {
            enterprise.insert(attr, Entry::Json(value));
        } else if let Some((urn, attr)) = path.rsplit_once(':').filter(|_| path.starts_with("urn:")) {
            match custom.iter_mut().find(|(u, _)| *u == urn) {
                Some((_, attrs)) => attrs.insert(attr, Entry::Json(value)),
                None => {
                    let mut attrs = Object::with_capacity(2);
                    attrs.insert(attr, Entry::Json(value));
                    custom.push((urn, attrs));
                }
            }
        } else {
            out.insert(path, Entry::Json(value));
        }
    }
    if !name.is_empty() {
        out.insert("name", Entry::Object(name));
    }
    for (attr, elements) in &user.multi {
        out.insert(attr, Entry::Elements(elements));
    }
    if !enterprise.is_empty() {
        schemas.push(ENTERPRISE_SCHEMA);
        out.insert(ENTERPRISE_SCHEMA, Entry::Object(enterprise));
    }
    for (urn, attrs) in custom {
        schemas.push(urn);
        out.insert(urn, Entry::Object(attrs));
    }
    out.insert("schemas", Entry::Strings(schemas));
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::http::json_bytes;
    use crate::scim::test_support::person;
    use crate::scim::users::user_resource;

    fn both_ways(user: &User) -> (String, String) {
        let base = "https://entrada.example/scim/a01/v2";
        let direct = user_resource_json(user, base).expect("a person of ordinary size");
        let via_value = json_bytes(&Value::Object(user_resource(user, base)));
        (String::from_utf8(direct).expect("utf-8"), String::from_utf8(via_value).expect("utf-8"))
    }

    fn element(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("an object")
    }

    #[test]
    fn a_full_person_is_written_as_the_value_path_writes_them() {
        let mut user = person("p1");
        let a = &mut user.attributes;
        (a.active, a.external_id, a.display_name, a.title) = (Some(false), Some("x-1".into()), Some("Ann \"A\" \u{e9}".into()), Some("Lead".into()));
        (a.preferred_language, a.given_name, a.family_name, a.manager) = (Some("fr".into()), Some("Ann".into()), Some("Lee".into()), Some("m-9".into()));
        let enterprise = |attr: &str| format!("{ENTERPRISE_SCHEMA}:{attr}");
        for (path, value) in [
            ("name.formatted".to_owned(), json!("Ann Lee")),
            ("nickName".to_owned(), json!("annie")),
            (enterprise("department"), json!("Ops")),
            (enterprise("costCenter"), json!(12)),
            ("urn:example:custom:1.0:User:badge".to_owned(), json!("B7")),
            ("urn:example:custom:1.0:User:floor".to_owned(), json!(3)),
            ("urn:other:ext:shoe".to_owned(), json!({"size": 42})),
        ] {
            a.scalars.insert(path, value);
        }
        a.multi.insert("emails".into(), vec![element(json!({"type": "work", "value": "ann@example.com", "primary": true}))]);
        a.multi.insert("phoneNumbers".into(), vec![element(json!({"type": "mobile", "value": "+33 6"})), element(json!({"value": "2"}))]);
        user.groups = vec![("g1".into(), "Sales".into()), ("g2".into(), "Ops \\ EU".into())];
        let (direct, via_value) = both_ways(&user);
        assert_eq!(direct, via_value);
    }

    #[test]
    fn an_attribute_that_arrives_twice_keeps_its_first_place_and_last_value() {
        let mut user = person("p2");
        let a = &mut user.attributes;
        (a.title, a.given_name, a.manager) = (Some("Lead".into()), Some("Ann".into()), Some("m-1".into()));
        for (path, value) in [
            ("title".to_owned(), json!("From a path")),
            ("name".to_owned(), json!("a plain string")),
            ("name.givenName".to_owned(), json!("Anne")),
            (format!("{ENTERPRISE_SCHEMA}:manager"), json!({"value": "m-2"})),
            ("emails".to_owned(), json!("not a list")),
            ("id".to_owned(), json!("forged")),
            ("meta".to_owned(), json!({})),
            ("schemas".to_owned(), json!([])),
        ] {
            a.scalars.insert(path, value);
        }
        a.multi.insert("emails".into(), vec![element(json!({"value": "ann@example.com"}))]);
        let (direct, via_value) = both_ways(&user);
        assert_eq!(direct, via_value);
    }

    #[test]
    fn a_person_with_very_many_attributes_is_left_to_the_value_path() {
        let mut user = person("p4");
        for i in 0..=MOST_ATTRIBUTES {
            user.attributes.scalars.insert(format!("urn:example:wide:1.0:User:a{i:05}"), json!(i));
        }
        assert!(user_resource_json(&user, "https://x").is_none());
        user.attributes.scalars.pop_first();
        assert!(user_resource_json(&user, "https://x").is_some());
    }

    #[test]
    fn a_bare_person_is_written_as_the_value_path_writes_them() {
        let (direct, via_value) = both_ways(&person("p3"));
        assert_eq!(direct, via_value);
        assert!(direct.starts_with(r#"{"userName":"","schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"p3","meta":{"#), "{direct}");
    }

    #[test]
    fn a_page_of_people_is_written_as_the_value_path_writes_it() {
        let base = "https://entrada.example/scim/a01/v2";
        let by_value = |total, start, users: &[User]| {
            let resources = users.iter().map(|u| Value::Object(user_resource(u, base))).collect();
            String::from_utf8(json_bytes(&crate::scim::http::list_response(total, start, resources))).expect("utf-8")
        };
        let direct = |total, start, users: &[User]| String::from_utf8(user_list_json(total, start, users, base).expect("ordinary people")).expect("utf-8");
        let mut ann = person("p1");
        ann.attributes.title = Some("Lead".into());
        ann.groups = vec![("g1".into(), "Sales".into())];
        let people = [ann, person("p2")];
        assert_eq!(direct(7, 3, &people), by_value(7, 3, &people));
        assert_eq!(direct(0, 1, &[]), by_value(0, 1, &[]));
        assert!(direct(0, 1, &[]).starts_with(r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"startIndex":1,"itemsPerPage":0,"Resources":[]"#));

        let mut wide = person("p5");
        for i in 0..=MOST_ATTRIBUTES {
            wide.attributes.scalars.insert(format!("urn:example:wide:1.0:User:a{i:05}"), json!(i));
        }
        assert!(user_list_json(1, 1, &[person("p1"), wide], base).is_none(), "one wide person sends the page to the Value path");
    }
}
