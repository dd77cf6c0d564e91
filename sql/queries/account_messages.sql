-- route: /messages/account
-- summary: Every message an account sent or received, in time order, a page at a time; pass the last message's `cursor` as `after` for the next page.
-- reads: messages
-- param: account text required | The account.
-- param: after text pattern=^[^|]+\|\d+$ | The `cursor` of the last message of the previous page.
-- param: limit int default=100 min=1 max=1000 | Messages per page.
-- exists: checks/account.sql account
-- example: /messages/account?account=ubuntu&limit=5
SELECT id, source, sender, receiver, sent_at, body, thread, sent_at::text || '|' || id AS cursor
FROM messages
WHERE (sender = $1 OR receiver = $1)
  AND ($2::text IS NULL
       OR (sent_at, id) > (split_part($2, '|', 1)::timestamptz, split_part($2, '|', 2)::bigint))
ORDER BY sent_at, id
LIMIT $3::int
