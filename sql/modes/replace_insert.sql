-- replace, then: the batch's rows the table does not hold (as multisets, after the delete)
-- go in. Afterwards the table holds exactly the batch.
INSERT INTO {target} ({columns})
SELECT {columns}
FROM (SELECT *, row_number() OVER (PARTITION BY pgbatch_row) AS pgbatch_n
      FROM (SELECT {columns}, ROW({columns})::text AS pgbatch_row
            FROM pg_temp.pgbatch_stage) AS b) AS s
LEFT JOIN (SELECT ROW({columns})::text AS pgbatch_row, count(*) AS pgbatch_m
           FROM {target}
           GROUP BY 1) AS t USING (pgbatch_row)
WHERE s.pgbatch_n > coalesce(t.pgbatch_m, 0)
