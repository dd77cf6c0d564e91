-- replace, replace_covered: after the delete, the batch goes in.
INSERT INTO {target} ({columns})
SELECT {columns} FROM pg_temp.pgbatch_stage
