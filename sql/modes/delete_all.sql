-- replace: every old row goes, under MVCC. Readers keep seeing the old rows until COMMIT;
-- no TRUNCATE, whose ACCESS EXCLUSIVE lock would block them.
DELETE FROM {target}
