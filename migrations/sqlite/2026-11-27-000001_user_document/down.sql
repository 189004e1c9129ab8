CREATE TABLE user_values (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    company_id BIGINT NOT NULL,
    attribute TEXT NOT NULL,
    position INTEGER NOT NULL,
    type TEXT,
    is_primary BOOLEAN,
    value TEXT,
    value_lower TEXT,
    display TEXT,
    formatted TEXT,
    street_address TEXT,
    locality TEXT,
    region TEXT,
    postal_code TEXT,
    country TEXT,
    raw_json TEXT
);
CREATE INDEX user_values_user ON user_values (user_id, attribute, position);
CREATE INDEX user_values_lookup ON user_values (company_id, attribute, value_lower);

-- Every value back as a row, kept whole in raw_json (read back exactly as stored).
INSERT INTO user_values (user_id, company_id, attribute, position, value, value_lower, raw_json)
SELECT u.id, u.company_id, a.key, COALESCE(e.key, 0),
       CASE WHEN e.type = 'object' THEN json_extract(e.value, '$.value') ELSE e.atom END,
       lower(CASE WHEN e.type = 'object' THEN json_extract(e.value, '$.value') ELSE e.atom END),
       CASE e.type WHEN 'text' THEN NULL WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
                   WHEN 'null' THEN 'null' ELSE CAST(e.value AS TEXT) END
FROM users u, json_each(u.scim_values) a, json_each(u.scim_values, a.fullkey) e;

DROP TABLE user_lookups;
ALTER TABLE users DROP COLUMN scim_values;
