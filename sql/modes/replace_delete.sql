-- replace, first: the old rows the batch does not hold go, as multisets over the loaded
-- columns (a row the table holds twice and the batch once goes once). The rest stay as they
-- are: no dead tuple, no index, foreign-key or WAL work, readers undisturbed. Rows compare
-- by their text (ROW(...)::text), exact for every type and needing no equality operator.
DELETE FROM {target} AS t
USING (
    SELECT o.pgbatch_ctid
    FROM (SELECT pgbatch_ctid, pgbatch_row,
                 row_number() OVER (PARTITION BY pgbatch_row) AS pgbatch_n
          FROM (SELECT ctid AS pgbatch_ctid, ROW({columns})::text AS pgbatch_row
                FROM {target}) AS r) AS o
    LEFT JOIN (SELECT ROW({columns})::text AS pgbatch_row, count(*) AS pgbatch_m
               FROM pg_temp.pgbatch_stage
               GROUP BY 1) AS s USING (pgbatch_row)
    WHERE o.pgbatch_n > coalesce(s.pgbatch_m, 0)
) AS gone
WHERE t.ctid = gone.pgbatch_ctid
