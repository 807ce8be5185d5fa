-- Postern schema, version 1.
-- Portable SQL where possible: INTEGER PRIMARY KEY becomes BIGSERIAL/IDENTITY
-- on PostgreSQL, BLOB becomes BYTEA, and the FTS5 table becomes a tsvector
-- column; everything else is meant to run unchanged. Times are Unix seconds.

-- Counters that must never go backwards, even across deleted rows
-- (the last UIDVALIDITY handed out).
CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);

CREATE TABLE domains (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	catch_all  TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL
);

CREATE TABLE accounts (
	id             INTEGER PRIMARY KEY,
	address        TEXT NOT NULL UNIQUE,
	domain_id      BIGINT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
	password_hash  TEXT NOT NULL DEFAULT '',
	scram_sha256   TEXT NOT NULL DEFAULT '',
	disabled       INTEGER NOT NULL DEFAULT 0,
	quota_bytes    BIGINT NOT NULL DEFAULT 0,
	quota_messages BIGINT NOT NULL DEFAULT 0,
	used_bytes     BIGINT NOT NULL DEFAULT 0,
	used_messages  BIGINT NOT NULL DEFAULT 0,
	created_at     BIGINT NOT NULL
);
CREATE INDEX accounts_domain ON accounts(domain_id);

-- destinations: one address per line.
CREATE TABLE aliases (
	id           INTEGER PRIMARY KEY,
	source       TEXT NOT NULL UNIQUE,
	domain_id    BIGINT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
	destinations TEXT NOT NULL,
	created_at   BIGINT NOT NULL
);
CREATE INDEX aliases_domain ON aliases(domain_id);

CREATE TABLE mailboxes (
	id            INTEGER PRIMARY KEY,
	account_id    BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name          TEXT NOT NULL,
	uidvalidity   BIGINT NOT NULL,
	uidnext       BIGINT NOT NULL DEFAULT 1,
	highestmodseq BIGINT NOT NULL DEFAULT 1,
	special_use   TEXT NOT NULL DEFAULT '',
	subscribed    INTEGER NOT NULL DEFAULT 0,
	created_at    BIGINT NOT NULL,
	UNIQUE (account_id, name)
);

-- One row per body file; refs counts messages and queue entries using it.
-- AUTOINCREMENT: an id is never reused, so nothing keyed by a blob id (the
-- full-text index) can be confused with a later blob.
CREATE TABLE blobs (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	blob_key   TEXT NOT NULL UNIQUE,
	size       BIGINT NOT NULL,
	refs       BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL
);
CREATE INDEX blobs_unreferenced ON blobs(refs) WHERE refs <= 0;

-- flags: bit set of store.Flags; keywords: space-separated atoms, sorted.
CREATE TABLE messages (
	id            INTEGER PRIMARY KEY,
	mailbox_id    BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid           BIGINT NOT NULL,
	modseq        BIGINT NOT NULL,
	flags         INTEGER NOT NULL DEFAULT 0,
	keywords      TEXT NOT NULL DEFAULT '',
	internal_date BIGINT NOT NULL,
	size          BIGINT NOT NULL,
	blob_id       BIGINT NOT NULL REFERENCES blobs(id),
	envelope      BLOB,
	bodystructure BLOB,
	preview       TEXT NOT NULL DEFAULT '',
	UNIQUE (mailbox_id, uid)
);
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
CREATE INDEX messages_blob ON messages(blob_id);

-- RFC 7162 §3.2.5.2: QRESYNC's VANISHED (EARLIER) needs the expunged UIDs
-- with the modseq of their expunge.
CREATE TABLE expunged (
	mailbox_id BIGINT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid        BIGINT NOT NULL,
	modseq     BIGINT NOT NULL,
	PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);

-- Full-text index of each blob (rowid = blobs.id); contentless, since the
-- text can be derived again from the body.
CREATE VIRTUAL TABLE blob_fts USING fts5(
	search_text, headers,
	content='', contentless_delete=1,
	tokenize='unicode61 remove_diacritics 2'
);

-- Outbound relay queue: one row per message, one per recipient.
CREATE TABLE queue_messages (
	id          INTEGER PRIMARY KEY,
	blob_id     BIGINT NOT NULL REFERENCES blobs(id),
	sender      TEXT NOT NULL,
	account_id  BIGINT REFERENCES accounts(id) ON DELETE SET NULL,
	env_id      TEXT NOT NULL DEFAULT '',
	dsn_ret     TEXT NOT NULL DEFAULT '',
	is_dsn      INTEGER NOT NULL DEFAULT 0,
	created_at  BIGINT NOT NULL
);

-- status: pending, delivered, failed (permanent), bounced (DSN sent).
CREATE TABLE queue_recipients (
	id           INTEGER PRIMARY KEY,
	queue_id     BIGINT NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,
	rcpt         TEXT NOT NULL,
	orcpt        TEXT NOT NULL DEFAULT '',
	notify       TEXT NOT NULL DEFAULT '',
	status       TEXT NOT NULL DEFAULT 'pending',
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt BIGINT NOT NULL,
	last_error   TEXT NOT NULL DEFAULT '',
	updated_at   BIGINT NOT NULL
);
CREATE INDEX queue_recipients_due ON queue_recipients(status, next_attempt);
CREATE INDEX queue_recipients_queue ON queue_recipients(queue_id);
