-- When each message was saved into its mailbox (IMAP SAVEDATE, RFC 8514):
-- its delivery, APPEND or COPY, and again at a MOVE. NULL for messages
-- stored before this column: their save date is unknown (SAVEDATE NIL).
ALTER TABLE message_meta ADD COLUMN saved_at BIGINT;
