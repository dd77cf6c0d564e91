-- A shard's staging table: like the target, in pgbatch_staging, kept past the shard's
-- transaction until finalize or gc drops it. {staging} and {target} are quoted
-- identifiers. Identity columns keep a generator of their own: the loader never fills them.
DROP TABLE IF EXISTS {staging};
CREATE TABLE {staging} (LIKE {target} INCLUDING DEFAULTS INCLUDING IDENTITY)
