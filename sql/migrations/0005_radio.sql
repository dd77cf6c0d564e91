-- Radio: songs (with release year and play count), and plays (when a song went on air).
CREATE TABLE songs (
    artist       text    NOT NULL,
    title        text    NOT NULL,
    release_year integer,
    play_count   integer,
    PRIMARY KEY (artist, title)
);

CREATE TABLE plays (
    station          text        NOT NULL,
    played_at        timestamptz NOT NULL,
    title            text        NOT NULL,
    artist           text,
    album            text,
    duration_seconds integer,
    program          text,
    PRIMARY KEY (station, played_at)
);
CREATE INDEX plays_artist_title_idx ON plays (artist, title);
