-- The first $2 rows batch $1 set aside, in the order found.
SELECT source, line, row_group, row_in_group, column_name, convert_from(value, 'UTF8'), reason
FROM pgbatch.rejects
WHERE batch_id = $1
ORDER BY ordinal
LIMIT $2
