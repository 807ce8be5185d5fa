-- Subscriptions outlive their mailbox (RFC 3501 §6.3.6: a server must not
-- drop a name from the subscription list because the mailbox is gone).
-- A subscribed mailbox keeps its subscription in mailboxes.subscribed;
-- when it is deleted the name moves here, is listed as \NonExistent
-- \Subscribed, and a mailbox created again under the name is subscribed.
CREATE TABLE subscriptions_kept (
	account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	PRIMARY KEY (account_id, name)
) WITHOUT ROWID;
