//! Recent token checks, so that a company's stream of SCIM requests does not look its token
//! and company up again for every request (~9% of a filter query's CPU).
//!
//! Only a live token is remembered, keyed by its digest, for at most [`KEEP_FOR`] from the
//! start of the lookup that found it. Any change this process makes to tokens or company
//! settings drops every entry at once (`db::epoch`); a change made elsewhere (the CLI,
//! another instance on the same PostgreSQL) takes effect within [`KEEP_FOR`]. Unknown and
//! revoked tokens are never remembered: they are looked up every time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::db::epoch;
use crate::models::Company;
use crate::models::scim_token::ScimToken;

/// How long a check is trusted without looking again.
pub const KEEP_FOR: Duration = Duration::from_secs(1);

/// Entries beyond this are swept of expired ones before another is added.
const SWEEP_ABOVE: usize = 1024;

struct Checked {
    token: ScimToken,
    company: Company,
    at: Instant,
    epoch: u64,
}

/// When a lookup began: what it finds is trusted from then, not from when it ended.
#[derive(Clone, Copy)]
pub struct LookupStart {
    at: Instant,
    epoch: u64,
}

impl LookupStart {
    pub fn now() -> LookupStart {
        // The epoch first: a change made during the lookup makes its entry stale at once.
        let epoch = epoch::current();
        LookupStart { at: Instant::now(), epoch }
    }
}

pub struct TokenCache {
    keep_for: Duration,
    entries: Mutex<HashMap<String, Checked>>,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache::keeping_for(KEEP_FOR)
    }
}

impl TokenCache {
    pub fn keeping_for(keep_for: Duration) -> TokenCache {
        TokenCache { keep_for, entries: Mutex::default() }
    }

    /// The live token with this digest and its company, if checked recently and nothing
    /// has changed since.
    pub fn get(&self, digest: &str) -> Option<(ScimToken, Company)> {
        let entries = self.entries.lock().ok()?;
        let checked = entries.get(digest)?;
        (checked.epoch == epoch::current() && checked.at.elapsed() < self.keep_for).then(|| (checked.token.clone(), checked.company.clone()))
    }

    /// Remembers a live token found by a lookup that began at `start`.
    pub fn put(&self, digest: &str, start: LookupStart, token: &ScimToken, company: &Company) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= SWEEP_ABOVE {
            let keep_for = self.keep_for;
            entries.retain(|_, c| c.at.elapsed() < keep_for);
        }
        let checked = Checked { token: token.clone(), company: company.clone(), at: start.at, epoch: start.epoch };
        entries.insert(digest.to_owned(), checked);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_and_company() -> (ScimToken, Company) {
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("a valid time").naive_utc();
        let token = ScimToken { id: 7, company_id: 3, token_digest: "d".repeat(64), last4: "abcd".into(), created_at: at, last_used_at: None, revoked_at: None };
        let company = Company {
            id: 3,
            shortcode: "a01".into(),
            name: "Acme".into(),
            entra_enabled: true,
            job_title_sync: false,
            groups_enabled: false,
            provisioning_mode: "none".into(),
            created_at: at,
            updated_at: at,
        };
        (token, company)
    }

    #[test]
    fn a_check_is_kept_for_its_time_then_looked_up_again() {
        let cache = TokenCache::keeping_for(Duration::from_millis(200));
        let (token, company) = token_and_company();
        assert!(cache.get("digest").is_none(), "nothing before a lookup");
        let start = LookupStart::now();
        cache.put("digest", start, &token, &company);
        // Other tests bump the shared epoch; the entry must be kept unless one did.
        let kept = cache.get("digest");
        if epoch::current() == start.epoch {
            assert_eq!(kept.map(|(t, c)| (t.id, c.shortcode)), Some((7, "a01".to_owned())));
        }
        std::thread::sleep(Duration::from_millis(250));
        assert!(cache.get("digest").is_none(), "expired");
        assert!(cache.get("another").is_none());
    }

    #[test]
    fn a_change_drops_every_check_at_once() {
        let cache = TokenCache::default();
        let (token, company) = token_and_company();
        cache.put("digest", LookupStart::now(), &token, &company);
        epoch::changed();
        assert!(cache.get("digest").is_none());
    }

    #[test]
    fn a_lookup_overlapping_a_change_is_not_reused() {
        let cache = TokenCache::default();
        let (token, company) = token_and_company();
        let start = LookupStart::now();
        // The change happens while the lookup reads the old row; the lookup then stores it.
        epoch::changed();
        cache.put("digest", start, &token, &company);
        assert!(cache.get("digest").is_none());
    }

    #[test]
    fn an_expired_check_counts_from_the_start_of_its_lookup() {
        let cache = TokenCache::keeping_for(Duration::from_millis(100));
        let (token, company) = token_and_company();
        let start = LookupStart::now();
        std::thread::sleep(Duration::from_millis(150));
        cache.put("digest", start, &token, &company);
        assert!(cache.get("digest").is_none(), "a slow lookup does not extend the second");
    }
}
