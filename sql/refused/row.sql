-- One refused row: where it came from, its values as text, and which of its columns are
-- NULL (in COPY order, to take it out of the batch's NULL counts). {columns}, {nulls}: the
-- job's columns, quoted; {nulls} as `c IS NULL` each.
SELECT pgbatch_file, pgbatch_line, pgbatch_group, pgbatch_row, ROW({columns})::text,
       ARRAY[{nulls}]::bool[]
FROM pg_temp.pgbatch_located
WHERE pgbatch_seq = $1
