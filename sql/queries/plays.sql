-- route: /radio/plays
-- summary: Songs played, newest last, found by artist, title or a word in either, in a time range; a page at a time (pass the last play's `played_at` as `after`).
-- reads: plays
-- param: artist text | The artist, any case.
-- param: title text | The title, any case.
-- param: q text max_length=100 | Text anywhere in the artist or title, any case.
-- param: from timestamptz | Played at or after, RFC 3339 or YYYY-MM-DD (UTC).
-- param: to timestamptz | Played before, RFC 3339 or YYYY-MM-DD (UTC).
-- range: from to
-- param: after timestamptz | The `played_at` of the last play of the previous page.
-- param: limit int default=100 min=1 max=1000 | Plays per page.
-- example: /radio/plays?artist=Arctic%20Monkeys&limit=5
SELECT played_at, station, artist, title, album, duration_seconds, program
FROM plays
WHERE ($1::text IS NULL OR lower(artist) = lower($1))
  AND ($2::text IS NULL OR lower(title) = lower($2))
  AND ($3::text IS NULL OR artist ILIKE '%' || $3 || '%' OR title ILIKE '%' || $3 || '%')
  AND ($4::timestamptz IS NULL OR played_at >= $4)
  AND ($5::timestamptz IS NULL OR played_at < $5)
  AND ($6::timestamptz IS NULL OR played_at > $6)
ORDER BY played_at
LIMIT $7::int
