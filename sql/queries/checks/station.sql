-- A station with measurements. $1: the station.
SELECT EXISTS (SELECT FROM measurements WHERE station = $1)
