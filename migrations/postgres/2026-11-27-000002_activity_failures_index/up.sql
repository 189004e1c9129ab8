-- The activity list's failures-only view and the portal's failure badge read the failures of
-- one company. Indexing only failures keeps that lookup, and spares every successful event
-- (nearly all of them: one per Entra create and PATCH) an index entry to write.
DROP INDEX activity_company_outcome;
CREATE INDEX activity_company_failures ON activity (company_id, id) WHERE outcome = 'failure';
