-- IMAP METADATA (RFC 5464): annotations of an account's mailboxes
-- (mailbox_id) and of the server as the account sees it (mailbox_id 0),
-- under /private and /shared names. A mailbox's entries go with it
-- (DeleteMailbox), an account's with the account.
CREATE TABLE metadata (
	account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	mailbox_id BIGINT NOT NULL,
	name       TEXT NOT NULL,
	value      BLOB NOT NULL,
	PRIMARY KEY (account_id, mailbox_id, name)
) WITHOUT ROWID;
