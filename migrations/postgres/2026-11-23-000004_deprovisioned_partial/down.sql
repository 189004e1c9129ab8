DROP INDEX users_company_deprovisioned;
CREATE INDEX users_company_deprovisioned ON users (company_id, deprovisioned_key, id);
