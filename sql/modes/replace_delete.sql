-- replace, first: the old rows the batch does not hold go, as multisets over the loaded
-- columns (a row the table holds twice and the batch once goes once). The rest stay as they
-- are: no dead tuple, no index, foreign-key or WAL work, readers undisturbed. Rows compare
-- by their text (ROW(...)::text), exact for every type and needing no equality operator.
-- One hashed count of both sides finds the rows the table holds more often than the batch
-- (`d`, usually few); only the table's copies of those are numbered, so the sort is small.
DELETE FROM {target} AS t
USING (
    SELECT o.pgbatch_ctid
    FROM (SELECT r.pgbatch_ctid, d.pgbatch_m,
                 row_number() OVER (PARTITION BY r.pgbatch_row) AS pgbatch_n
          FROM (SELECT ctid AS pgbatch_ctid, ROW({columns})::text AS pgbatch_row
                FROM {target}) AS r
          JOIN (SELECT pgbatch_row, count(*) FILTER (WHERE NOT pgbatch_old) AS pgbatch_m
                FROM (SELECT ROW({columns})::text AS pgbatch_row, true AS pgbatch_old
                      FROM {target}
                      UNION ALL
                      SELECT ROW({columns})::text, false
                      FROM pg_temp.pgbatch_stage) AS u
                GROUP BY pgbatch_row
                HAVING count(*) FILTER (WHERE pgbatch_old) > count(*) FILTER (WHERE NOT pgbatch_old)
               ) AS d USING (pgbatch_row)) AS o
    WHERE o.pgbatch_n > o.pgbatch_m
) AS gone
WHERE t.ctid = gone.pgbatch_ctid
