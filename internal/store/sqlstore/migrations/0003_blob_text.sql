-- Exact substring search (IMAP SEARCH BODY/TEXT/HEADER, RFC 9051 §6.4.4):
-- the decoded text of each blob, case-folded (store.FoldText), scanned with
-- instr(). blob_fts matches words by prefix only and cannot find "eting" in
-- "meeting". rowid = blobs.id; removed with the blob. Blobs delivered before
-- this table existed have no row, and searches parse their bodies instead.
-- headers comes first: reading a column means walking the overflow pages of
-- the columns before it, and HEADER searches read only the headers.
CREATE TABLE blob_text (
	blob_id INTEGER PRIMARY KEY,
	headers BLOB NOT NULL,
	body    BLOB NOT NULL
);

-- The terms of blob_fts, to find the indexed words that contain a search
-- string: the messages having one of them are the only candidates for a
-- substring match (see textsearch.go).
CREATE VIRTUAL TABLE blob_fts_terms USING fts5vocab(blob_fts, 'row');
