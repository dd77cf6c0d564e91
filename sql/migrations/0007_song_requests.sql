-- Song requests arrive as batch files (a queue export); a SQL transform job tallies them
-- into the playlist, weighted by the listeners tuned in when each request came.
CREATE TABLE song_requests (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    requested_at timestamptz NOT NULL,
    artist       text        NOT NULL,
    title        text        NOT NULL,
    listeners    integer     NOT NULL CHECK (listeners >= 0)
);

CREATE TABLE playlist (
    artist            text        NOT NULL,
    title             text        NOT NULL,
    score             bigint      NOT NULL,
    requests          bigint      NOT NULL,
    last_requested_at timestamptz NOT NULL,
    PRIMARY KEY (artist, title)
);
CREATE INDEX playlist_score_idx ON playlist (score DESC, artist, title);

-- How far each SQL transform job has read its input.
CREATE TABLE pgbatch.watermarks (
    job        text PRIMARY KEY,
    position   bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
