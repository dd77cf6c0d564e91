-- A migration's wait for a lock is bounded ($1, e.g. '1s'), for this transaction only: an
-- ALTER waiting on a reader would otherwise hold up every reader queued behind it.
SELECT set_config('lock_timeout', $1, true)
