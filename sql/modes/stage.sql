-- The staging table of one batch: like the target, private to the session, gone at COMMIT
-- or ROLLBACK. {target} is a quoted identifier.
CREATE TEMP TABLE pgbatch_stage (LIKE {target} INCLUDING DEFAULTS) ON COMMIT DROP
