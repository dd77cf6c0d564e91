-- The staging table of one batch: like the target, private to the session, gone at COMMIT
-- or ROLLBACK. {target} is a quoted identifier. Identity columns keep a generator of their
-- own here, since the loader never fills them.
CREATE TEMP TABLE pgbatch_stage (LIKE {target} INCLUDING DEFAULTS INCLUDING IDENTITY) ON COMMIT DROP
