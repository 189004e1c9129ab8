//! A readable list of what a SCIM write changed, for the activity log (names, never secrets).

use crate::domain::UserAttributes;

pub fn describe_changes(old: &UserAttributes, new: &UserAttributes) -> String {
    let mut changed: Vec<String> = Vec::new();
    let mut field = |name: &str, a: &Option<String>, b: &Option<String>| {
        if a != b {
            changed.push(match (a, b) {
                (_, None) => format!("{name} cleared"),
                (_, Some(v)) if v.chars().count() <= 60 => format!("{name} = {v:?}"),
                _ => format!("{name} changed"),
            });
        }
    };
    field("userName", &Some(old.user_name.clone()), &Some(new.user_name.clone()));
    field("externalId", &old.external_id, &new.external_id);
    field("displayName", &old.display_name, &new.display_name);
    field("name.givenName", &old.given_name, &new.given_name);
    field("name.familyName", &old.family_name, &new.family_name);
    field("title", &old.title, &new.title);
    field("preferredLanguage", &old.preferred_language, &new.preferred_language);
    field("manager", &old.manager, &new.manager);
    if old.active != new.active {
        changed.push(match new.active {
            Some(active) => format!("active = {active}"),
            None => "active cleared".to_owned(),
        });
    }
    for key in old.scalars.keys().chain(new.scalars.keys()) {
        if old.scalars.get(key) != new.scalars.get(key) && !changed.iter().any(|c| c.starts_with(key.as_str())) {
            changed.push(format!("{key} changed"));
        }
    }
    for key in old.multi.keys().chain(new.multi.keys()) {
        let label = format!("{key} changed");
        if old.multi.get(key) != new.multi.get(key) && !changed.contains(&label) {
            changed.push(label);
        }
    }
    if changed.is_empty() {
        return "no change".to_owned();
    }
    // Admins read these: enterprise attributes by their plain name.
    let enterprise = concat!("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", ":");
    changed.join("; ").replace(enterprise, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_changed_fields_only() {
        let old = UserAttributes { user_name: "a@x.example".into(), active: Some(true), title: Some("Lead".into()), ..Default::default() };
        let mut new = old.clone();
        assert_eq!(describe_changes(&old, &new), "no change");
        new.active = Some(false);
        new.title = None;
        assert_eq!(describe_changes(&old, &new), "title cleared; active = false");
    }
}
