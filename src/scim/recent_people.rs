//! People just read by `GET /Users/{id}`, for the PATCH or PUT that follows.
//!
//! Entra reads a person before it changes them, and the change must start from the person
//! as stored: on PostgreSQL that read is a round trip of its own, a third of an incremental
//! cycle's statements. A write takes the person from here instead, and the version check of
//! its UPDATE (`User::update_attributes`) proves the row unchanged since: if anything wrote
//! the person in between, here or on another instance, nothing is written and the write reads
//! the person again. So an entry can be stale, never wrong.
//!
//! Entries are taken once (a write removes the one it uses), offered for at most [`KEEP_FOR`]
//! and swept at most a second later, keyed by company and SCIM id (a company's token can only
//! reach that company's people), at most [`CAPACITY`] at a time and none with a document over
//! [`LARGEST_DOCUMENT`] bytes (a few MB in all at worst). People of companies that provision
//! groups are not kept: their group memberships, part of the answer, change without the
//! person's version.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::models::Company;
use crate::models::user::User;

/// How long a read person is offered to a write.
pub const KEEP_FOR: Duration = Duration::from_secs(1);

/// At most this many people are kept; beyond it, reads are not remembered until expired
/// entries are swept. (Entra's GET and PATCH are milliseconds apart.)
pub const CAPACITY: usize = 1024;

/// People whose stored document is larger are not kept.
pub const LARGEST_DOCUMENT: usize = 8 * 1024;

pub struct RecentPeople {
    keep_for: Duration,
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    people: HashMap<(i64, String), (Instant, User)>,
    /// When expired entries were last swept.
    swept: Option<Instant>,
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
        if company.groups_enabled || user.row.scim_values.len() > LARGEST_DOCUMENT {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else { return };
        let keep_for = self.keep_for;
        // Reads that no write follows are swept once a second, or at once when full.
        if entries.people.len() >= CAPACITY || entries.swept.is_none_or(|at| at.elapsed() >= keep_for) {
            entries.people.retain(|_, (at, _)| at.elapsed() < keep_for);
            entries.swept = Some(Instant::now());
            if entries.people.len() >= CAPACITY {
                return;
            }
        }
        entries.people.insert((company.id, user.row.scim_id.clone()), (Instant::now(), user.clone()));
    }

    /// The company's person with this SCIM id if read within [`KEEP_FOR`]; taken out.
    pub fn take(&self, company: &Company, scim_id: &str) -> Option<User> {
        if company.groups_enabled {
            return None;
        }
        let mut entries = self.entries.lock().ok()?;
        let (at, user) = entries.people.remove(&(company.id, scim_id.to_owned()))?;
        (at.elapsed() < self.keep_for).then_some(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::test_support::person;

    fn company(id: i64, groups_enabled: bool) -> Company {
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("a valid time").naive_utc();
        let (shortcode, name, provisioning_mode) = ("a01".into(), "Acme".into(), "none".into());
        Company { id, shortcode, name, entra_enabled: true, job_title_sync: false, groups_enabled, provisioning_mode, created_at: at, updated_at: at }
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
        assert_eq!(recent.entries.lock().map(|e| e.people.len()).ok(), Some(1), "expired entries swept");
        assert!(recent.take(&company(1, false), "late").is_some(), "and the fresh one kept");
    }

    #[test]
    fn reads_no_write_follows_are_swept_once_expired() {
        let recent = RecentPeople::keeping_for(Duration::from_millis(50));
        recent.remember(&company(1, false), &person("p1"));
        recent.remember(&company(1, false), &person("p2"));
        std::thread::sleep(Duration::from_millis(80));
        recent.remember(&company(1, false), &person("p3"));
        assert_eq!(recent.entries.lock().map(|e| e.people.len()).ok(), Some(1), "p1 and p2 swept");
    }

    #[test]
    fn people_with_a_large_document_are_not_kept() {
        let recent = RecentPeople::default();
        let mut large = person("p1");
        large.row.scim_values = format!("{{\"nickName\":\"{}\"}}", "x".repeat(LARGEST_DOCUMENT));
        recent.remember(&company(1, false), &large);
        assert!(recent.take(&company(1, false), "p1").is_none());
    }
}
