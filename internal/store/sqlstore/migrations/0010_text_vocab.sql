-- The words of the text index, each once, with a trigram index over them:
-- finding the words that contain a search string (IMAP asks for
-- substrings) reads this small index instead of scanning the vocabulary of
-- every body (text_terms), whose cost grew with the number of messages.
-- Words of deleted mail stay: they lead to no message.
CREATE TABLE text_vocab (
	id   INTEGER PRIMARY KEY,
	term TEXT NOT NULL UNIQUE
);
-- rowid = text_vocab.id; contentless, and without positions: a search
-- asks for every trigram of a string, then checks the words with instr().
CREATE VIRTUAL TABLE text_vocab_tri USING fts5(term, content='', detail=none, tokenize='trigram');
INSERT INTO text_vocab (term) SELECT DISTINCT term FROM text_terms;
INSERT INTO text_vocab_tri (rowid, term) SELECT id, term FROM text_vocab;
