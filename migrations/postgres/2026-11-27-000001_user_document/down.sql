CREATE TABLE user_values (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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

-- Every value back as a row, kept whole in raw_json unless it is a plain string.
INSERT INTO user_values (user_id, company_id, attribute, position, value, value_lower, raw_json)
SELECT u.id, u.company_id, a.key, (e.n - 1)::int,
       CASE jsonb_typeof(e.v) WHEN 'object' THEN e.v ->> 'value' ELSE e.v #>> '{}' END,
       lower(CASE jsonb_typeof(e.v) WHEN 'object' THEN e.v ->> 'value' ELSE e.v #>> '{}' END),
       CASE jsonb_typeof(e.v) WHEN 'string' THEN NULL ELSE e.v::text END
FROM users u,
     jsonb_each(u.scim_values::jsonb) a,
     jsonb_array_elements(CASE jsonb_typeof(a.value) WHEN 'array' THEN a.value ELSE jsonb_build_array(a.value) END)
         WITH ORDINALITY e(v, n);

DROP TABLE user_lookups;
ALTER TABLE users DROP COLUMN scim_values;
