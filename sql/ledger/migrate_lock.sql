-- Serialises concurrent `pgbatch migrate` runs for the rest of the transaction.
SELECT pg_advisory_xact_lock(hashtextextended('pgbatch:migrate', 0))
