-- A mailbox's messages in received order, for JMAP Email/query sorted by
-- receivedAt (the webmail's list): the first page is read from the front
-- (or the back) of this index and stops there, instead of sorting the
-- whole mailbox. thread_id is in it, and uid comes with the table's key,
-- so collapsing threads reads the index alone.
CREATE INDEX messages_mailbox_date ON messages(mailbox_id, internal_date, id, thread_id);
