-- Only deprovisioned people have a deprovisioned_key, and the only query on this index asks
-- for one (deprovisioned_key = ?). Indexing everyone else's NULL too cost every create a
-- write to this index for nothing.
DROP INDEX users_company_deprovisioned;
CREATE INDEX users_company_deprovisioned ON users (company_id, deprovisioned_key, id) WHERE deprovisioned_key IS NOT NULL;
