-- IMAP ACL (RFC 4314): rights of other accounts on a mailbox. grantee_id
-- is the account granted, NULL for "anyone" (every account of the owner's
-- domain); negative rows take rights away. Rows go with the mailbox and
-- with the grantee's account. rights is a bit set of store.Rights.
CREATE TABLE mailbox_acl (
	mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	grantee_id BIGINT REFERENCES accounts(id) ON DELETE CASCADE,
	negative   INTEGER NOT NULL DEFAULT 0,
	rights     INTEGER NOT NULL
);
CREATE UNIQUE INDEX mailbox_acl_entry ON mailbox_acl(mailbox_id, COALESCE(grantee_id, 0), negative);
CREATE INDEX mailbox_acl_grantee ON mailbox_acl(grantee_id);

-- A grantee's subscription to a mailbox shared with it (a mailbox's own
-- subscribed column is its owner's). No row: subscribed.
CREATE TABLE shared_subscriptions (
	account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	subscribed INTEGER NOT NULL,
	PRIMARY KEY (account_id, mailbox_id)
);
