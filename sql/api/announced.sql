-- Whether the ledger announces its batches (migration 0013's trigger): an API that runs
-- before that migration is applied hears nothing, and must not trust its copy.
SELECT EXISTS (
    SELECT FROM pg_trigger
    WHERE tgname = 'batches_announce' AND tgrelid = 'pgbatch.batches'::regclass
)
