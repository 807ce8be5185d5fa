-- JMAP identities (RFC 8621 §6) and email submissions (§7). Rows that are
-- destroyed stay as tombstones (destroyed = 1) so /changes can report
-- them. created_modseq and modseq come from jmap_sequences: one sequence
-- per account and kind ('identity', 'submission') that only grows; floor
-- is the highest modseq whose tombstone was dropped (changes from before
-- it cannot be calculated). AUTOINCREMENT: an id is never given twice.
CREATE TABLE jmap_sequences (
	account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	kind       TEXT NOT NULL,
	modseq     BIGINT NOT NULL,
	floor      BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (account_id, kind)
);

CREATE TABLE jmap_identities (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	account_id     BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	name           TEXT NOT NULL,
	email          TEXT NOT NULL,
	reply_to       TEXT,
	bcc            TEXT,
	text_signature TEXT NOT NULL,
	html_signature TEXT NOT NULL,
	is_default     INTEGER NOT NULL DEFAULT 0,
	created_modseq BIGINT NOT NULL,
	modseq         BIGINT NOT NULL,
	destroyed      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jmap_identities_account ON jmap_identities(account_id, modseq);
CREATE UNIQUE INDEX jmap_identities_default ON jmap_identities(account_id) WHERE is_default = 1;

CREATE TABLE jmap_submissions (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	account_id      BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
	identity_id     BIGINT NOT NULL,
	email_id        BIGINT NOT NULL,
	thread_id       BIGINT NOT NULL,
	envelope        TEXT NOT NULL,
	delivery_status TEXT NOT NULL,
	queue_ids       TEXT NOT NULL,
	send_at         BIGINT NOT NULL,
	undo_status     TEXT NOT NULL,
	created_modseq  BIGINT NOT NULL,
	modseq          BIGINT NOT NULL,
	destroyed       INTEGER NOT NULL DEFAULT 0,
	destroyed_at    BIGINT
);
CREATE INDEX jmap_submissions_account ON jmap_submissions(account_id, modseq);
CREATE INDEX jmap_submissions_send_at ON jmap_submissions(account_id, send_at);
