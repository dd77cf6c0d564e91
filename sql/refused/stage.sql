-- After the database refused a row of the batch: the located stage, the batch's rows each
-- with its position (the file's index in the batch, its line, or its row group and row) and
-- its order in the batch (pgbatch_seq, COPY order). The job's columns have the target's
-- types and nothing else: no constraint, so that every row gets in and the target's
-- constraints are met only when the rows are merged. {target}, {columns}: quoted.
CREATE TEMP TABLE pgbatch_located ON COMMIT DROP AS
SELECT {columns},
       NULL::int4 AS pgbatch_file, NULL::int8 AS pgbatch_line,
       NULL::int4 AS pgbatch_group, NULL::int8 AS pgbatch_row
FROM {target}
WITH NO DATA;
ALTER TABLE pg_temp.pgbatch_located ADD COLUMN pgbatch_seq int8 GENERATED ALWAYS AS IDENTITY;
-- What the mode's statements read as the batch: the located rows in the range the session
-- settings pgbatch.first and pgbatch.last name (range.sql), all of them but in a search.
CREATE TEMP VIEW pgbatch_stage AS
SELECT {columns}
FROM pg_temp.pgbatch_located
WHERE pgbatch_seq BETWEEN current_setting('pgbatch.first')::int8 AND current_setting('pgbatch.last')::int8
