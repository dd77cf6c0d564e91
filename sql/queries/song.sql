-- route: /radio/song
-- summary: A song's details and every time it was played.
-- reads: songs plays
-- param: artist text required | The artist, exactly as listed.
-- param: title text required | The title, exactly as listed.
-- exists: checks/song.sql artist title
-- example: /radio/song?artist=The%20Clash&title=Train%20In%20Vain
SELECT s.artist, s.title, s.release_year, s.play_count,
       coalesce((SELECT jsonb_agg(p.played_at ORDER BY p.played_at)
                 FROM plays p
                 WHERE p.artist = s.artist AND p.title = s.title), '[]') AS played_at
FROM songs s
WHERE s.artist = $1 AND s.title = $2
