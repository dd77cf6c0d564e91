-- upsert: insert, or update the non-key columns where the key exists.
-- Needs a unique index on {key}.
INSERT INTO {target} ({columns})
SELECT {columns} FROM pg_temp.pgbatch_stage
ON CONFLICT ({key}) DO UPDATE SET {updates}
