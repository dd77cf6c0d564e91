-- replace, then: the batch's rows the table does not hold (as multisets, after the delete)
-- go in. Afterwards the table holds exactly the batch. As in replace_delete.sql, one hashed
-- count of both sides finds the rows the batch holds more often than the table (`d`), and
-- only the batch's copies of those are numbered.
INSERT INTO {target} ({columns})
SELECT {columns}
FROM (SELECT b.*, d.pgbatch_m,
             row_number() OVER (PARTITION BY b.pgbatch_row) AS pgbatch_n
      FROM (SELECT {columns}, ROW({columns})::text AS pgbatch_row
            FROM pg_temp.pgbatch_stage) AS b
      JOIN (SELECT pgbatch_row,
                   count(*) FILTER (WHERE pgbatch_new) - count(*) FILTER (WHERE NOT pgbatch_new) AS pgbatch_m
            FROM (SELECT ROW({columns})::text AS pgbatch_row, true AS pgbatch_new
                  FROM pg_temp.pgbatch_stage
                  UNION ALL
                  SELECT ROW({columns})::text, false
                  FROM {target}) AS u
            GROUP BY pgbatch_row
            HAVING count(*) FILTER (WHERE pgbatch_new) > count(*) FILTER (WHERE NOT pgbatch_new)
           ) AS d USING (pgbatch_row)) AS s
WHERE s.pgbatch_n <= s.pgbatch_m
