#!/usr/bin/env python3
"""Writes data/samples/radio/song_requests.synthetic.csv: SYNTHETIC song requests.

No real request log exists among the datasets, so this makes one, deterministically
(seeded), from the songs of the classic rock song list: 2,000 requests over one week,
each with the number of listeners tuned in at the time.
Run: python3 scripts/make_song_requests.py
"""
import csv
import datetime
import pathlib
import random

root = pathlib.Path(__file__).resolve().parent.parent
songs_file = root / "data/samples/radio/classic-rock-song-list.csv"
out = root / "data/samples/radio/song_requests.synthetic.csv"

rng = random.Random(20161101)
with songs_file.open(newline="", encoding="utf-8") as f:
    songs = [(row["ARTIST CLEAN"], row["Song Clean"], int(row["PlayCount"])) for row in csv.DictReader(f)]
weights = [plays + 1 for _, _, plays in songs]
start = datetime.datetime(2016, 11, 1, tzinfo=datetime.timezone.utc)
with out.open("w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(["requested_at", "artist", "title", "listeners"])
    for _ in range(2000):
        artist, title, _plays = rng.choices(songs, weights)[0]
        at = start + datetime.timedelta(seconds=rng.randrange(7 * 24 * 3600))
        writer.writerow([at.isoformat(), artist, title, rng.randrange(50, 5000)])
