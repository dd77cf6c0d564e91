-- route: /artist
-- summary: An artist's chart entries, newest first, as the charts service served them; 404 for an artist never charted.
-- reads: chart_entries
-- param: artist text required | The artist, exactly as charted.
-- param: limit int default=10 min=1 max=1000 | How many entries.
-- param: offset int default=0 min=0 max=1000000 | Entries to skip.
-- exists: checks/artist.sql artist
-- example: /artist?artist=Ed%20Sheeran&limit=5
SELECT title AS track_title, date, region, streams AS track_streams, rank AS rank_by_region
FROM chart_entries
WHERE artist = $1
ORDER BY date DESC, region, chart, rank
LIMIT $2::int OFFSET $3::int
