-- An artist with a chart entry. $1: the artist.
SELECT EXISTS (SELECT FROM chart_entries WHERE artist = $1)
