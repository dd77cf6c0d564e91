-- A port code or a region slug that exists. $1: the code or slug.
SELECT EXISTS (SELECT FROM ports WHERE code = $1) OR EXISTS (SELECT FROM regions WHERE slug = $1)
