-- The last batch committed to any of the given tables (0: none), for a route's ETag.
-- $1: the tables, as job specs name them. One index probe per table (batches_target_idx).
SELECT coalesce(max(last.id), 0)::bigint
FROM unnest($1::text[]) AS t (target)
CROSS JOIN LATERAL (SELECT max(b.id) AS id FROM pgbatch.batches b WHERE b.target = t.target) AS last
