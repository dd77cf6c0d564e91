-- route: /v1/search
-- summary: Messages by id, sender and receiver, each a comma-separated list, in any combination (at least one), in time order, as the messaging service served them.
-- reads: messages
-- param: message_id int[] min=1 | Message ids.
-- param: sender_number text[] max_length=200 | Sending accounts.
-- param: receiver_number text[] max_length=200 | Receiving accounts.
-- one_of: message_id sender_number receiver_number
-- example: /v1/search?sender_number=1,2&receiver_number=3
SELECT id AS message_id, sender AS sender_number, receiver AS receiver_number, sent_at, body AS text
FROM messages
WHERE ($1::int8[] IS NULL OR id = ANY ($1))
  AND ($2::text[] IS NULL OR sender = ANY ($2))
  AND ($3::text[] IS NULL OR receiver = ANY ($3))
ORDER BY sent_at, id
