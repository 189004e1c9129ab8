//! What every request handler shares.

use crate::config::PublicUrl;
use std::sync::Arc;

use crate::db::Database;
use crate::scim::auth::LastUsedThrottle;
use crate::scim::recent_people::RecentPeople;
use crate::scim::token_cache::TokenCache;

#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub public_url: PublicUrl,
    pub scim_last_used: Arc<LastUsedThrottle>,
    pub scim_tokens: Arc<TokenCache>,
    /// People just read by SCIM, for the write that follows.
    pub recent_people: Arc<RecentPeople>,
}
