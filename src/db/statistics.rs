//! PostgreSQL: planner statistics that follow a table's growth.
//!
//! PostgreSQL keeps a generic plan for a prepared statement after its first executions, and
//! re-plans only when the tables' statistics change. A plan made while `users` was empty is
//! chosen by a tie (`EXPLAIN` showed the `(company_id, email_lower)` index used with only
//! `company_id` for a userName lookup) and would read a whole company per request as it
//! grows. Autovacuum refreshes statistics eventually, but only about once a minute, and not
//! at all where it is switched off. So a thread of ours runs `ANALYZE` on a table that has
//! changed by a fifth since its last analysis, checking every few seconds: plans are re-made
//! with statistics that match the data, and the connections may keep generic plans (no
//! planning per execution). With several instances, one at a time does it (advisory lock).

use std::sync::mpsc;
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

/// How often the change counts are looked at (three small queries).
///
/// The plans made before a new database's first analysis are the bad ones: with no
/// statistics PostgreSQL picks `users_company_email` with only `company_id` for every
/// lookup of a person (EXPLAIN on an empty database), i.e. it reads the whole company per
/// request until the first `ANALYZE`. perf of an initial cycle on a fresh database: index
/// scans' heap fetches ~36% of PostgreSQL's samples, a create's NOT EXISTS probes alone 22%.
/// Checking every second instead of every 5 s ends that sooner: initial cycle 4,683-4,799
/// -> 5,518-5,775 req/s (4 alternating rounds). How often a table is analyzed is bounded by
/// `needs_analyze`, not by this interval.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The tables SCIM requests look up by index, where a plan made on stale statistics hurts.
const TABLES: [&str; 5] = ["users", "user_lookups", "groups", "group_members", "scim_tokens"];

/// Arbitrary key of the advisory lock that makes one instance at a time analyze.
const LOCK_KEY: i64 = 0x656e_7472_6164_61;

/// Whether a table with `live` rows and `changed` rows changed since its last analysis
/// needs a new one: a fifth of it, and at least 50 rows (so an empty table is analyzed as
/// soon as it holds some people, and a large one about as often as it grows by 20%).
pub fn needs_analyze(live: i64, changed: i64) -> bool {
    changed >= 50 && changed * 5 >= live.max(0)
}

#[derive(QueryableByName)]
struct TableChanges {
    #[diesel(sql_type = Text)]
    relname: String,
    #[diesel(sql_type = BigInt)]
    live: i64,
    #[diesel(sql_type = BigInt)]
    changed: i64,
}

/// Keeps the thread running; it stops when every clone is dropped (the `Database` is gone).
#[derive(Clone)]
pub(super) struct Keeper {
    _alive: mpsc::Sender<()>,
}

/// Starts the thread for the PostgreSQL database at `url`.
pub(super) fn start(url: &str) -> anyhow::Result<Keeper> {
    let url = url.to_owned();
    let (alive, stop) = mpsc::channel::<()>();
    std::thread::Builder::new().name("pg-statistics".into()).spawn(move || {
        let mut conn = None;
        while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECK_EVERY) {
            if conn.is_none() {
                super::init_postgres_client();
                conn = diesel::PgConnection::establish(&url).ok();
            }
            let Some(c) = conn.as_mut() else { continue };
            if let Err(err) = analyze_changed(c) {
                tracing::warn!(error = %err, "could not refresh the planner's statistics");
                conn = None;
            }
        }
    })?;
    Ok(Keeper { _alive: alive })
}

fn analyze_changed(c: &mut diesel::PgConnection) -> QueryResult<()> {
    let locked: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!("pg_try_advisory_lock({LOCK_KEY})"))).get_result(c)?;
    if !locked {
        return Ok(());
    }
    let result = (|| {
        let tables: Vec<TableChanges> = diesel::sql_query(
            "SELECT relname::text AS relname, n_live_tup AS live, n_mod_since_analyze AS changed \
             FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = ANY($1)",
        )
        .bind::<diesel::sql_types::Array<Text>, _>(TABLES.to_vec())
        .load(c)?;
        for table in tables.iter().filter(|t| needs_analyze(t.live, t.changed)) {
            // The name comes from TABLES, not from outside.
            diesel::sql_query(format!("ANALYZE {}", table.relname)).execute(c)?;
            tracing::debug!(table = %table.relname, rows = table.live, "statistics refreshed");
        }
        QueryResult::Ok(())
    })();
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!("pg_advisory_unlock({LOCK_KEY})"))).execute(c)?;
    result
}

#[cfg(test)]
mod tests {
    use super::needs_analyze;

    #[test]
    fn a_table_is_analyzed_once_it_has_people_then_as_it_grows_by_a_fifth() {
        assert!(!needs_analyze(0, 49));
        assert!(needs_analyze(0, 50));
        assert!(needs_analyze(60, 60));
        assert!(!needs_analyze(100_000, 19_999));
        assert!(needs_analyze(100_000, 20_000));
    }
}
