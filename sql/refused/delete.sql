-- The refused rows leave the located stage ($1: their pgbatch_seq); the rest is the batch.
DELETE FROM pg_temp.pgbatch_located WHERE pgbatch_seq = ANY($1)
