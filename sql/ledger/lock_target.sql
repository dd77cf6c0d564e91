-- Serialises loads of one target table until the transaction ends.
-- $1: the target table as the job names it.
SELECT pg_advisory_xact_lock(hashtextextended('pgbatch:load:' || $1, 0))
