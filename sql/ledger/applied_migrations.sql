SELECT version, name, sha256 FROM pgbatch.migrations ORDER BY version
