-- A person's page shows that person's latest events. Without an index on the person the
-- query walked the company's events newest first until it had found 20 of theirs: every
-- event of the company for someone with few or old events (measured on SQLite: 0.5 s per
-- page view at 1,000,000 events, growing with the company's history). Events about no
-- person (token, configuration and group events) are left out of the index.
CREATE INDEX activity_user ON activity (user_id, id) WHERE user_id IS NOT NULL;
