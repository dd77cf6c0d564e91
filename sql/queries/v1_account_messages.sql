-- route: /v1/get/messages/{account_id}
-- summary: Every message an account sent or received, in time order, as the messaging service served them.
-- reads: messages
-- param: account_id text required max_length=200 | The account (a number in the SNAP set, a nick in the Ubuntu set).
-- exists: checks/account.sql account_id
-- example: /v1/get/messages/1
SELECT id AS message_id, sender AS sender_number, receiver AS receiver_number, sent_at, body AS text
FROM messages
WHERE sender = $1 OR receiver = $1
ORDER BY sent_at, id
