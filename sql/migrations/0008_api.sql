-- The read-only HTTP API (`pgbatch serve`).
--
-- `pgbatch_reader` is the role the API runs its queries as: it can read the dataset tables
-- and the ledger, and nothing else. It cannot log in; the API connects as the configured
-- user and takes this role for the whole session (`-c role=pgbatch_reader`), or connects
-- as a login role that is a member of it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgbatch_reader') THEN
        CREATE ROLE pgbatch_reader NOLOGIN;
    END IF;
    IF NOT pg_has_role(current_user, 'pgbatch_reader', 'MEMBER') THEN
        EXECUTE format('GRANT pgbatch_reader TO %I', current_user);
    END IF;
END
$$;
GRANT USAGE ON SCHEMA public, pgbatch TO pgbatch_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public, pgbatch TO pgbatch_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA public, pgbatch GRANT SELECT ON TABLES TO pgbatch_reader;

-- Keyset paging: an artist's entries oldest first, and an account's messages in time order.
DROP INDEX chart_entries_artist_idx;
CREATE INDEX chart_entries_artist_idx ON chart_entries (artist, date, chart, region, rank);
ALTER TABLE messages ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE messages ADD CONSTRAINT messages_id_key UNIQUE (id);
DROP INDEX messages_sender_idx, messages_receiver_idx;
CREATE INDEX messages_sender_idx ON messages (sender, sent_at, id);
CREATE INDEX messages_receiver_idx ON messages (receiver, sent_at, id);
