-- The rows of the located stage the batch's statements see ($1, $2: the first and the last
-- pgbatch_seq, as text), until the end of the transaction or savepoint.
SELECT set_config('pgbatch.first', $1, true), set_config('pgbatch.last', $2, true)
