-- Once the located rows are in: the search reads them by range of pgbatch_seq.
CREATE INDEX ON pg_temp.pgbatch_located (pgbatch_seq);
ANALYZE pg_temp.pgbatch_located
