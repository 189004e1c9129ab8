//! People just read by `GET /Users/{id}`, for the PATCH or PUT that follows.
//!
//! Entra reads a person before it changes them, and the change must start from the person
//! as stored: on PostgreSQL that read is a round trip of its own, a third of an incremental
//! cycle's statements. A write takes the person from here instead, and the version check of
//! its UPDATE (`User::update_attributes`) proves the row unchanged since: if anything wrote
//! the person in between, here or on another instance, nothing is written and the write reads
//! the person again. So an entry can be stale, never wrong.
//!
//! Entries are taken once (a write removes the one it uses), kept for at most [`KEEP_FOR`],
//! keyed by company and SCIM id (a company's token can only reach that company's people), and
//! at most [`CAPACITY`] at a time. People of companies that provision groups are not kept:
//! their group memberships, part of the answer, change without the person's version.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::models::Company;
use crate::models::user::User;

/// How long a read person is offered to a write.
pub const KEEP_FOR: Duration = Duration::from_secs(1);

/// At most this many people are kept; beyond it, reads are not remembered until expired
/// entries are swept.
pub const CAPACITY: usize = 4096;

pub struct RecentPeople {
    keep_for: Duration,
    entries: Mutex<HashMap<(i64, String), (Instant, User)>>,
}

impl Default for RecentPeople {
    fn default() -> Self {
        RecentPeople::keeping_for(KEEP_FOR)
    }
}

impl RecentPeople {
    pub fn keeping_for(keep_for: Duration) -> RecentPeople {
        RecentPeople { keep_for, entries: Mutex::default() }
    }

    /// Keeps `user`, just read for `company`, for a write that may follow.
    pub fn remember(&self, company: &Company, user: &User) {
        if company.groups_enabled {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= CAPACITY {
            let keep_for = self.keep_for;
            entries.retain(|_, (at, _)| at.elapsed() < keep_for);
            if entries.len() >= CAPACITY {
                return;
            }
        }
        entries.insert((company.id, user.row.scim_id.clone()), (Instant::now(), user.clone()));
    }

    /// The company's person with this SCIM id if read within [`KEEP_FOR`]; taken out.
    pub fn take(&self, company: &Company, scim_id: &str) -> Option<User> {
        if company.groups_enabled {
            return None;
        }
        let mut entries = self.entries.lock().ok()?;
        let (at, user) = entries.remove(&(company.id, scim_id.to_owned()))?;
        (at.elapsed() < self.keep_for).then_some(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::UserAttributes;
    use crate::models::user::UserRow;

    fn company(id: i64, groups_enabled: bool) -> Company {
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("a valid time").naive_utc();
        let (shortcode, name, provisioning_mode) = ("a01".into(), "Acme".into(), "none".into());
        Company { id, shortcode, name, entra_enabled: true, job_title_sync: false, groups_enabled, provisioning_mode, created_at: at, updated_at: at }
    }

    fn person(scim_id: &str) -> User {
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

    #[test]
    fn a_person_is_taken_once_and_only_by_their_company() {
        let recent = RecentPeople::default();
        recent.remember(&company(1, false), &person("p1"));
        assert!(recent.take(&company(2, false), "p1").is_none());
        assert_eq!(recent.take(&company(1, false), "p1").map(|u| u.row.scim_id), Some("p1".to_owned()));
        assert!(recent.take(&company(1, false), "p1").is_none());
    }

    #[test]
    fn a_person_read_too_long_ago_is_not_offered() {
        let recent = RecentPeople::keeping_for(Duration::from_millis(50));
        recent.remember(&company(1, false), &person("p1"));
        std::thread::sleep(Duration::from_millis(80));
        assert!(recent.take(&company(1, false), "p1").is_none());
    }

    #[test]
    fn people_of_companies_that_provision_groups_are_not_kept() {
        let recent = RecentPeople::default();
        recent.remember(&company(1, true), &person("p1"));
        assert!(recent.take(&company(1, false), "p1").is_none());
    }

    #[test]
    fn at_capacity_fresh_reads_wait_for_expired_ones_to_be_swept() {
        let recent = RecentPeople::keeping_for(Duration::from_millis(50));
        for i in 0..CAPACITY {
            recent.remember(&company(1, false), &person(&format!("p{i}")));
        }
        recent.remember(&company(1, false), &person("extra"));
        assert!(recent.take(&company(1, false), "extra").is_none(), "full: not remembered");
        std::thread::sleep(Duration::from_millis(80));
        recent.remember(&company(1, false), &person("late"));
        assert_eq!(recent.entries.lock().map(|e| e.len()).ok(), Some(1), "expired entries swept");
        assert!(recent.take(&company(1, false), "late").is_some(), "and the fresh one kept");
    }
}
