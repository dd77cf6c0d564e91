-- An account that sent or received a message. $1: the account.
SELECT EXISTS (SELECT FROM messages WHERE sender = $1) OR EXISTS (SELECT FROM messages WHERE receiver = $1)
