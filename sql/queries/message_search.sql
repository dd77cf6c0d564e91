-- route: /messages/search
-- summary: Messages by sender, receiver, time range and text (full-text, English), in time order, a page at a time; pass the last message's `cursor` as `after`.
-- reads: messages
-- param: sender text | The sending account.
-- param: receiver text | The receiving account.
-- param: from timestamptz | Sent at or after, RFC 3339 or YYYY-MM-DD (UTC).
-- param: to timestamptz | Sent before, RFC 3339 or YYYY-MM-DD (UTC).
-- range: from to
-- param: q text max_length=200 | Words to find in the text (web search syntax: "a phrase", or, -not).
-- param: after text pattern=^[^|]+\|\d+$ | The `cursor` of the last message of the previous page.
-- param: limit int default=100 min=1 max=1000 | Messages per page.
-- example: /messages/search?q=grub%20install&limit=5
SELECT id, source, sender, receiver, sent_at, body, thread, sent_at::text || '|' || id AS cursor
FROM messages
WHERE ($1::text IS NULL OR sender = $1)
  AND ($2::text IS NULL OR receiver = $2)
  AND ($3::timestamptz IS NULL OR sent_at >= $3)
  AND ($4::timestamptz IS NULL OR sent_at < $4)
  AND ($5::text IS NULL
       OR to_tsvector('english', coalesce(body, '')) @@ websearch_to_tsquery('english', $5))
  AND ($6::text IS NULL
       OR (sent_at, id) > (split_part($6, '|', 1)::timestamptz, split_part($6, '|', 2)::bigint))
ORDER BY sent_at, id
LIMIT $7::int
