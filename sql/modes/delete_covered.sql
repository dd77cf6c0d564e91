-- replace_covered: old rows whose {cover} the batch covers go: values the batch holds, and
-- the inclusive ranges its file names declare ($1: lower bounds, $2: upper bounds, as text).
DELETE FROM {target} AS t
WHERE t.{cover} IN (SELECT s.{cover} FROM pg_temp.pgbatch_stage AS s)
   OR EXISTS (
        SELECT 1
        FROM unnest($1::text[], $2::text[]) AS r(lo, hi)
        WHERE t.{cover} BETWEEN CAST(r.lo AS {cover_type}) AND CAST(r.hi AS {cover_type})
      )
