-- route: /radio/playlist
-- summary: The playlist: the most requested songs, weighted by the listeners tuned in when each request came.
-- reads: playlist
-- param: limit int default=20 min=1 max=500 | How many songs.
-- example: /radio/playlist?limit=5
SELECT artist, title, score, requests, last_requested_at
FROM playlist
ORDER BY score DESC, artist, title
LIMIT $1::int
