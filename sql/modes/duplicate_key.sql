-- After an upsert failed with 21000 (a key twice in one batch): one such key, and how often
-- the batch holds it, to name it in the error.
SELECT ROW({key})::text, count(*)
FROM pg_temp.pgbatch_stage
GROUP BY {key}
HAVING count(*) > 1
ORDER BY 1
LIMIT 1
