INSERT INTO pgbatch.migrations (version, name, sha256) VALUES ($1, $2, $3)
