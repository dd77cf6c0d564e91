-- After COMMIT: how long the ledger row, the rejects and COMMIT took ($2, ms), into the
-- stages of batch $1 (its row is written before that is known).
UPDATE pgbatch.batches
SET stages = jsonb_set(stages, '{committing_ms}', to_jsonb($2::int8))
WHERE id = $1 AND stages IS NOT NULL
