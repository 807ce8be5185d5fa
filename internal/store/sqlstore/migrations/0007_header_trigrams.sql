-- A trigram index of each blob's folded header lines (blob_text.headers), so
-- that IMAP SEARCH HEADER/SUBJECT/FROM/... finds its candidates without
-- scanning every message of the mailbox. The trigram tokenizer answers
-- substring queries of three or more characters; it indexes the already
-- folded text (case_sensitive 1: no second folding), so a substring of the
-- folded headers always has all its trigrams here. Matches are confirmed
-- against blob_text. rowid = blobs.id.
CREATE VIRTUAL TABLE blob_header_tri USING fts5(headers, tokenize = 'trigram case_sensitive 1');
INSERT INTO blob_header_tri (rowid, headers) SELECT blob_id, CAST(headers AS TEXT) FROM blob_text;
