//! A count of the changes this process makes to what a SCIM token check reads (tokens and
//! company settings), so that a cache of recent checks drops its entries at once.
//!
//! A change bumps the count when it is made and again once its transaction has committed:
//! a check that ran in between still read the old row, and the second bump drops what it
//! cached.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

static EPOCH: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// A change was made on this thread in a transaction that has not finished yet.
    static PENDING: Cell<bool> = const { Cell::new(false) };
}

/// The current count; a cached check is good only while it is unchanged.
pub fn current() -> u64 {
    EPOCH.load(Ordering::Acquire)
}

/// Called by the models that change tokens or company settings, inside their transaction.
/// The second bump comes from `finished`, which `Database::write` calls after the commit; a
/// change made on a bare connection (tests, the CLI's own process) gets only this one.
pub fn changed() {
    EPOCH.fetch_add(1, Ordering::AcqRel);
    PENDING.with(|p| p.set(true));
}

/// Called on the thread that ran a transaction, after its COMMIT (or rollback).
pub(crate) fn finished() {
    if PENDING.with(|p| p.replace(false)) {
        EPOCH.fetch_add(1, Ordering::AcqRel);
    }
}
