-- The text index moves to a database of its own, text.db (textdb.go): its
-- FTS5 work no longer holds up the mail database's writer. Every body is
-- indexed there again by the background pass.
DROP TABLE text_vocab_tri;
DROP TABLE text_vocab;
DROP TABLE text_terms;
DROP TABLE text_index;
UPDATE blobs SET text_state = 2;
