-- Search without a second copy of every body (issue: storage that scales).
-- blob_text kept the decoded text of every body again, blob_fts every word
-- with its positions, blob_header_tri the headers again as trigrams: more
-- than the mail itself. text_index keeps, per body (rowid = blobs.id), the
-- set of its distinct words in two columns, as terms.go cuts them: no
-- content, no positions. A search narrows with it and checks the decoded
-- text of the candidates only when the index alone cannot answer.
DROP TABLE blob_header_tri;
DROP TABLE blob_fts_terms;
DROP TABLE blob_fts;
DROP TABLE blob_text;

CREATE VIRTUAL TABLE text_index USING fts5(
	body, headers,
	content='', contentless_delete=1, detail=column,
	tokenize='ascii'
);
-- The words of each column, to find those that contain a search string.
CREATE VIRTUAL TABLE text_terms USING fts5vocab(text_index, 'col');

-- Every body stored so far gets indexed again by the maintenance loop.
UPDATE blobs SET text_state = 2;
CREATE INDEX blobs_unindexed ON blobs(id) WHERE text_state = 2;
