-- The highest UID of each mailbox that an IMAP session has taken as
-- \Recent (RFC 3501 §2.3.2): the messages above it are recent to the next
-- session that selects the mailbox, and to no other.
CREATE TABLE mailbox_recent (
	mailbox_id BIGINT PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid        BIGINT NOT NULL
);
