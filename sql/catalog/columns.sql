-- The loadable columns of one table, in table order: name, type OID, declared type,
-- typmod, NOT NULL, whether the column is generated (never loaded), and whether it has a
-- default (or is an identity column).
-- $1: the table name, as written in a job spec (schema-qualified or on the search_path).
SELECT a.attname::text,
       a.atttypid::oid,
       format_type(a.atttypid, a.atttypmod),
       a.atttypmod,
       a.attnotnull,
       a.attgenerated <> '' OR a.attidentity = 'a' AS generated,
       a.atthasdef OR a.attidentity <> '' AS has_default
FROM pg_attribute a
WHERE a.attrelid = $1::text::regclass
  AND a.attnum > 0
  AND NOT a.attisdropped
ORDER BY a.attnum
