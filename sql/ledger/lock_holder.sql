-- Who holds the load lock of target $1 (see lock_target.sql): its backend, application,
-- client address and when its transaction started.
WITH k AS (SELECT hashtextextended('pgbatch:load:' || $1, 0) AS key)
SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'a local socket'),
       coalesce(a.xact_start::text, '')
FROM pg_locks l
JOIN pg_stat_activity a ON a.pid = l.pid
CROSS JOIN k
WHERE l.locktype = 'advisory'
  AND l.granted
  AND l.objsubid = 1
  AND l.classid::bigint = (k.key >> 32) & 4294967295
  AND l.objid::bigint = k.key & 4294967295
LIMIT 1
