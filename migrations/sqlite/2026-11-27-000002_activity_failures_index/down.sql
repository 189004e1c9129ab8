DROP INDEX activity_company_failures;
CREATE INDEX activity_company_outcome ON activity (company_id, outcome, id);
