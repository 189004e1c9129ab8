-- A create looks up "the most recently deprovisioned person with this userName":
-- WHERE company_id = ? AND deprovisioned_key = ? ORDER BY id DESC LIMIT 1.
-- With id in the index that is one index descent. Without it PostgreSQL, planning from
-- statistics taken while the table was small, walked the primary key backwards through
-- every person (each POST got slower as a company grew: ~100 creates/s at 50,000 people).
DROP INDEX users_company_deprovisioned;
CREATE INDEX users_company_deprovisioned ON users (company_id, deprovisioned_key, id);
