-- postern:foreign-keys-off
-- Tables are rebuilt (SQLite cannot change a column's constraints in place),
-- so foreign keys are off while this runs and checked before it commits.

-- Bodies live in append-only segment files (blob/segment.go): a body is
-- (segment, seg_offset, size, crc). segment 0 is a large body in a file of
-- its own (blob_key), or, until the upgrade moves it to a segment, a small
-- body still inline in data. No random key per body any more: its unique
-- index made every insert a random B-tree write.
-- text_state: 0 the text index holds every term of the body; 1 only some
-- (a search must look at the body itself); 2 not indexed yet.
CREATE TABLE blobs_new (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	segment    BIGINT NOT NULL DEFAULT 0,
	seg_offset BIGINT NOT NULL DEFAULT 0,
	size       BIGINT NOT NULL,
	crc        BIGINT NOT NULL DEFAULT 0,
	blob_key   TEXT,
	data       BLOB,
	refs       BIGINT NOT NULL DEFAULT 0,
	text_state INTEGER NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL
);
INSERT INTO blobs_new (id, segment, seg_offset, size, crc, blob_key, data, refs, text_state, created_at)
	SELECT id, 0, 0, size, 0, CASE WHEN data IS NULL THEN blob_key END, data, refs, 0, created_at FROM blobs;
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'blobs')
	WHERE name = 'blobs_new' AND EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'blobs');
DROP TABLE blobs;
ALTER TABLE blobs_new RENAME TO blobs;
CREATE UNIQUE INDEX blobs_key ON blobs(blob_key) WHERE blob_key IS NOT NULL;
CREATE INDEX blobs_unreferenced ON blobs(refs) WHERE refs <= 0;
-- Compaction reads the live bytes of each segment from this index alone.
CREATE INDEX blobs_segment ON blobs(segment, seg_offset, size) WHERE segment > 0;
CREATE INDEX blobs_inline ON blobs(id) WHERE data IS NOT NULL;

-- Every change in an account takes the account's next modseq
-- (accounts.modseq): one sequence per account, so "what changed in this
-- account since S" is a range on it, and each mailbox's HIGHESTMODSEQ
-- (RFC 7162) is the largest of its changes. Existing mailboxes keep theirs.
ALTER TABLE accounts ADD COLUMN modseq BIGINT NOT NULL DEFAULT 0;
UPDATE accounts SET modseq = (SELECT COALESCE(MAX(highestmodseq), 0) FROM mailboxes WHERE account_id = accounts.id);

-- modseq of a mailbox's own last change (created, renamed, subscribed).
ALTER TABLE mailboxes ADD COLUMN modseq BIGINT NOT NULL DEFAULT 0;

-- Messages: ids never reused (AUTOINCREMENT), kept when a message moves to
-- another mailbox, so they can name a message for good (JMAP Email ids).
-- created_modseq is the modseq of its arrival in the account; thread_id the
-- id of the first message of its conversation, set at delivery.
CREATE TABLE messages_new (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	mailbox_id     BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid            BIGINT NOT NULL,
	modseq         BIGINT NOT NULL,
	created_modseq BIGINT NOT NULL DEFAULT 0,
	thread_id      BIGINT NOT NULL DEFAULT 0,
	flags          INTEGER NOT NULL DEFAULT 0,
	keywords       TEXT NOT NULL DEFAULT '',
	internal_date  BIGINT NOT NULL,
	size           BIGINT NOT NULL,
	blob_id        BIGINT NOT NULL REFERENCES blobs(id),
	UNIQUE (mailbox_id, uid)
);
INSERT INTO messages_new (id, mailbox_id, uid, modseq, created_modseq, thread_id, flags, keywords, internal_date, size, blob_id)
	SELECT id, mailbox_id, uid, modseq, modseq, id, flags, keywords, internal_date, size, blob_id FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
CREATE INDEX messages_blob ON messages(blob_id);
CREATE INDEX messages_listing ON messages(mailbox_id, uid, flags, modseq, size, internal_date, blob_id, keywords);
CREATE INDEX messages_thread ON messages(thread_id);

-- What threading by references needs without reading bodies: the message's
-- References and In-Reply-To ids (RFC 5256 §2.2), space-separated.
ALTER TABLE message_meta ADD COLUMN refs TEXT NOT NULL DEFAULT '';

-- Thread lookup at delivery: a hash of a Message-ID (or of "s:" + base
-- subject) in an account, and the thread it belongs to.
CREATE TABLE thread_keys (
	account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	key_hash   BIGINT NOT NULL,
	thread_id  BIGINT NOT NULL,
	PRIMARY KEY (account_id, key_hash)
) WITHOUT ROWID;

-- Messages that left an account (expunged, mailbox or account deleted), for
-- "what was destroyed since S" (JMAP Email/changes); a move is not one.
CREATE TABLE message_tombstones (
	account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	modseq     BIGINT NOT NULL,
	message_id BIGINT NOT NULL,
	thread_id  BIGINT NOT NULL
);
CREATE INDEX message_tombstones_modseq ON message_tombstones(account_id, modseq);

CREATE TABLE mailbox_tombstones (
	account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	modseq     BIGINT NOT NULL,
	mailbox_id BIGINT NOT NULL
);
CREATE INDEX mailbox_tombstones_modseq ON mailbox_tombstones(account_id, modseq);

-- Queue ids are never reused (a log or a bounce naming queue id 7 names one
-- message); skip is the part of the shared body that is not sent
-- (store.QueuedCopy.Skip).
CREATE TABLE queue_messages_new (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	blob_id     BIGINT NOT NULL REFERENCES blobs(id),
	skip        BIGINT NOT NULL DEFAULT 0,
	sender      TEXT NOT NULL,
	account_id  BIGINT REFERENCES accounts(id) ON DELETE SET NULL,
	env_id      TEXT NOT NULL DEFAULT '',
	dsn_ret     TEXT NOT NULL DEFAULT '',
	is_dsn      INTEGER NOT NULL DEFAULT 0,
	held        INTEGER NOT NULL DEFAULT 0,
	warned      INTEGER NOT NULL DEFAULT 0,
	created_at  BIGINT NOT NULL
);
INSERT INTO queue_messages_new (id, blob_id, skip, sender, account_id, env_id, dsn_ret, is_dsn, held, warned, created_at)
	SELECT id, blob_id, 0, sender, account_id, env_id, dsn_ret, is_dsn, held, warned, created_at FROM queue_messages;
DROP TABLE queue_messages;
ALTER TABLE queue_messages_new RENAME TO queue_messages;
CREATE INDEX queue_messages_blob ON queue_messages(blob_id);
