-- Messages between accounts. `body_md5` makes exact duplicates (same source, sender,
-- receiver, time and text) one row: `insert_new` keys on it.
CREATE TABLE messages (
    source   text        NOT NULL,
    sender   text        NOT NULL,
    receiver text,
    sent_at  timestamptz NOT NULL,
    body     text,
    thread   text,
    body_md5 text GENERATED ALWAYS AS (md5(coalesce(body, ''))) STORED,
    CONSTRAINT messages_identity UNIQUE NULLS NOT DISTINCT (source, sender, receiver, sent_at, body_md5)
);
CREATE INDEX messages_sender_idx ON messages (sender, sent_at);
CREATE INDEX messages_receiver_idx ON messages (receiver, sent_at);
CREATE INDEX messages_sent_at_idx ON messages (sent_at);
CREATE INDEX messages_body_fts_idx ON messages USING gin (to_tsvector('english', coalesce(body, '')));
