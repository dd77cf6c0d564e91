-- Batch keys whose newest shard was recorded before $1 seconds ago and that never
-- finalized: what `pgbatch gc` collects.
SELECT job, batch_key, count(*)::bigint, max(recorded_at)::text
FROM pgbatch.shards
GROUP BY job, batch_key
HAVING max(recorded_at) < now() - make_interval(secs => $1::float8)
ORDER BY job, batch_key
