//! Rule 2: a person is active only when Entra says so, they are not deprovisioned, and they
//! have a role on at least one Passle. Otherwise the status says why. Every Passle assignment
//! carries a role (the person's own role, or the one a group mapping grants), so "a role and a
//! Passle" is "at least one assignment".

use crate::models::user::UserRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonStatus {
    Active,
    PendingAssignment,
    DisabledInEntra,
    DisabledByAdmin,
    Deprovisioned,
}

impl PersonStatus {
    pub fn of(row: &UserRow, passle_count: i64) -> PersonStatus {
        if row.deprovisioned_at.is_some() {
            PersonStatus::Deprovisioned
        } else if row.scim_active == Some(false) {
            PersonStatus::DisabledInEntra
        } else if row.disabled_at.is_some() {
            PersonStatus::DisabledByAdmin
        } else if passle_count == 0 {
            PersonStatus::PendingAssignment
        } else {
            PersonStatus::Active
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            PersonStatus::Active => "active",
            PersonStatus::PendingAssignment => "pending",
            PersonStatus::DisabledInEntra => "disabled",
            PersonStatus::DisabledByAdmin => "disabled_by_admin",
            PersonStatus::Deprovisioned => "deprovisioned",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PersonStatus::Active => "Active",
            PersonStatus::PendingAssignment => "Pending assignment",
            PersonStatus::DisabledInEntra => "Disabled in Entra ID",
            PersonStatus::DisabledByAdmin => "Disabled by an admin",
            PersonStatus::Deprovisioned => "Deprovisioned",
        }
    }

    /// Why, in a sentence an admin understands.
    pub fn explanation(self) -> &'static str {
        match self {
            PersonStatus::Active => "Enabled in Entra ID, with a role on at least one Passle.",
            PersonStatus::PendingAssignment => "Needs a role on at least one Passle (set below, or through a mapped group) before they can work in the product.",
            PersonStatus::DisabledInEntra => "Entra ID set them inactive (unassigned, disabled or soft-deleted there). Role and Passles are kept and come back when Entra re-enables them.",
            PersonStatus::DisabledByAdmin => "An admin disabled them in the portal.",
            PersonStatus::Deprovisioned => "Entra ID deleted them. Everything is kept; if Entra creates the same userName again they are restored.",
        }
    }
}

/// The same rule as [`PersonStatus::of`], as a SQL condition on `users` (for counts and
/// list filters that must not load a company's people into memory).
pub fn status_condition(status: PersonStatus) -> crate::db::sql::Sql {
    use crate::db::sql::Sql;
    Sql::raw(match status {
        PersonStatus::Deprovisioned => "users.deprovisioned_at IS NOT NULL",
        PersonStatus::DisabledInEntra => "(users.deprovisioned_at IS NULL AND users.scim_active = FALSE)",
        PersonStatus::DisabledByAdmin => {
            "(users.deprovisioned_at IS NULL AND COALESCE(users.scim_active, TRUE) AND users.disabled_at IS NOT NULL)"
        }
        PersonStatus::PendingAssignment => {
            "(users.deprovisioned_at IS NULL AND COALESCE(users.scim_active, TRUE) AND users.disabled_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM passle_assignments a WHERE a.user_id = users.id))"
        }
        PersonStatus::Active => {
            "(users.deprovisioned_at IS NULL AND COALESCE(users.scim_active, TRUE) AND users.disabled_at IS NULL \
             AND EXISTS (SELECT 1 FROM passle_assignments a WHERE a.user_id = users.id))"
        }
    })
}

/// The same rule as [`PersonStatus::of`], as one SQL expression on `users` giving each
/// person's status key (made of [`status_condition`], which tell the statuses apart): every
/// status counted in one pass over a company's people.
pub fn status_key_sql() -> crate::db::sql::Sql {
    use crate::db::sql::Sql;
    // Keys written out, not bound: PostgreSQL matches the grouped expression with the selected
    // one by its text, and bound parameters would number the two copies differently.
    let key = |status: PersonStatus| Sql::raw_owned(format!("'{}'", status.key()));
    let mut parts = vec![Sql::raw("(CASE")];
    // Pending last, as the ELSE: its condition is the only one left.
    for status in [PersonStatus::Deprovisioned, PersonStatus::DisabledInEntra, PersonStatus::DisabledByAdmin, PersonStatus::Active] {
        parts.extend([Sql::raw(" WHEN "), status_condition(status), Sql::raw(" THEN "), key(status)]);
    }
    parts.extend([Sql::raw(" ELSE "), key(PersonStatus::PendingAssignment), Sql::raw(" END)")]);
    Sql::seq(parts)
}

impl PersonStatus {
    pub const ALL: [PersonStatus; 5] = [
        PersonStatus::Active,
        PersonStatus::PendingAssignment,
        PersonStatus::DisabledInEntra,
        PersonStatus::DisabledByAdmin,
        PersonStatus::Deprovisioned,
    ];

    pub fn from_key(key: &str) -> Option<PersonStatus> {
        PersonStatus::ALL.into_iter().find(|s| s.key() == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> UserRow {
        UserRow { role: Some("editor".into()), ..crate::scim::test_support::person("s").row }
    }

    #[test]
    fn active_needs_entra_a_role_and_a_passle() {
        assert_eq!(PersonStatus::of(&row(), 1), PersonStatus::Active);
        assert_eq!(PersonStatus::of(&UserRow { scim_active: None, ..row() }, 1), PersonStatus::Active, "absent active counts as active");
        assert_eq!(PersonStatus::of(&row(), 0), PersonStatus::PendingAssignment);
        // A group mapping grants a role on its Passles even when the person has none of their own.
        assert_eq!(PersonStatus::of(&UserRow { role: None, ..row() }, 3), PersonStatus::Active);
    }

    #[test]
    fn the_strongest_reason_wins() {
        let now = chrono::Utc::now().naive_utc();
        assert_eq!(PersonStatus::of(&UserRow { scim_active: Some(false), ..row() }, 1), PersonStatus::DisabledInEntra);
        assert_eq!(PersonStatus::of(&UserRow { disabled_at: Some(now), ..row() }, 1), PersonStatus::DisabledByAdmin);
        let gone = UserRow { deprovisioned_at: Some(now), scim_active: Some(false), ..row() };
        assert_eq!(PersonStatus::of(&gone, 1), PersonStatus::Deprovisioned);
        for status in PersonStatus::ALL {
            assert_eq!(PersonStatus::from_key(status.key()), Some(status));
            assert!(!status.explanation().is_empty());
        }
    }
}
