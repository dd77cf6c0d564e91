-- insert_new: rows whose key exists (in the table, or earlier in the batch) are skipped.
-- Needs a unique index on {key}.
INSERT INTO {target} ({columns})
SELECT {columns} FROM pg_temp.pgbatch_stage
ON CONFLICT ({key}) DO NOTHING
