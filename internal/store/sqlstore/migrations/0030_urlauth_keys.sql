-- IMAP URLAUTH (RFC 4467): the secret of each mailbox that URLAUTH
-- verifiers are computed with. RESETKEY deletes it, so every URL made
-- before stops working; GENURLAUTH creates the next one. A key goes with
-- its mailbox and its account.
CREATE TABLE urlauth_keys (
	account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	secret     BLOB NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (account_id, mailbox_id)
);
