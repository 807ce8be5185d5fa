-- Light listings (listing.go) and cheap flag changes.
--
-- The cached envelope, body structure and preview move out of messages into
-- message_meta: they made each message row about 1.5 KiB, so STORE 1:* on
-- 10,000 messages rewrote some 4,000 table pages (16 MiB of WAL) to change
-- one byte per row. A messages row is now about 50 bytes.
CREATE TABLE message_meta (
	message_id    INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
	envelope      BLOB,
	bodystructure BLOB,
	preview       TEXT NOT NULL DEFAULT ''
);
INSERT INTO message_meta (message_id, envelope, bodystructure, preview)
	SELECT id, envelope, bodystructure, preview FROM messages;
ALTER TABLE messages DROP COLUMN envelope;
ALTER TABLE messages DROP COLUMN bodystructure;
ALTER TABLE messages DROP COLUMN preview;

-- SELECT and FETCH of UID/FLAGS/sizes read this covering index alone, so a
-- 100,000-message SELECT stays a short sequential scan.
CREATE INDEX messages_listing ON messages(mailbox_id, uid, flags, modseq, size, internal_date, blob_id, keywords);
