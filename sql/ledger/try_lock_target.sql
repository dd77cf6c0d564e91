-- Takes the lock that serialises loads of one target, if no other load holds it.
-- $1: the target table as the job names it.
SELECT pg_try_advisory_xact_lock(hashtextextended('pgbatch:load:' || $1, 0))
