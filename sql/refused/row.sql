-- One refused row: where it came from, and its values as text. {columns}: quoted.
SELECT pgbatch_file, pgbatch_line, pgbatch_group, pgbatch_row, ROW({columns})::text
FROM pg_temp.pgbatch_located
WHERE pgbatch_seq = $1
