-- Music charts: one row per chart position. `chart` is the source's chart name (`top200`
-- in the Kaggle set; `daily` or `weekly` for spotifycharts.com downloads).
CREATE TABLE chart_entries (
    chart   text    NOT NULL,
    region  text    NOT NULL,
    date    date    NOT NULL,
    rank    integer NOT NULL CHECK (rank > 0),
    title   text,
    artist  text,
    url     text,
    trend   text,
    streams bigint,
    PRIMARY KEY (chart, region, date, rank)
);
-- An artist's entries, newest first, paged by key.
CREATE INDEX chart_entries_artist_idx ON chart_entries (artist, date DESC, chart, region, rank);
