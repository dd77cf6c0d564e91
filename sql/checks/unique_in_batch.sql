-- [checks] unique: the key the staged batch holds most often when it holds one more than
-- once, how often, and how many keys it holds more than once. {key}: the check's columns,
-- quoted. No row: every key is unique within the batch.
SELECT key, times, count(*) OVER () AS keys
FROM (
    SELECT ROW({key})::text AS key, count(*) AS times
    FROM pg_temp.pgbatch_stage
    GROUP BY {key}
    HAVING count(*) > 1
) AS held_twice
ORDER BY times DESC, key
LIMIT 1
