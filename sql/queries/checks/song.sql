-- A song in the song list. $1: artist, $2: title.
SELECT EXISTS (SELECT FROM songs WHERE artist = $1 AND title = $2)
