package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
)

// The text index lives in a database of its own (text.db beside
// postern.db), with a writer of its own: indexing many bodies costs tens of
// milliseconds of FTS5 work per batch, which in the mail database's writer
// held up every delivery queued behind it. The mail database keeps, per
// body, whether the index has it (blobs.text_state); the indexer writes the
// words here first, then marks the bodies in a short operation of the mail
// writer. A crash between the two makes the words be written again (a
// delete then an insert, so never twice).
//
// Tables: text_index (FTS5, no content, no positions: rowid = blobs.id,
// columns body and headers), text_vocab (every word once) and
// text_vocab_tri (trigrams of the words, to find those containing a
// search string).

const textSchema = `
CREATE VIRTUAL TABLE IF NOT EXISTS text_index USING fts5(
	body, headers,
	content='', contentless_delete=1, detail=column,
	tokenize='ascii'
);
CREATE TABLE IF NOT EXISTS text_vocab (
	id   INTEGER PRIMARY KEY,
	term TEXT NOT NULL UNIQUE
);
CREATE VIRTUAL TABLE IF NOT EXISTS text_vocab_tri USING fts5(term, content='', detail=none, tokenize='trigram');
`

// textAutomerge is FTS5's automerge setting for text_index.
const textAutomerge = 8

// textDB is the text index database: a writer connection used by the
// indexer goroutine alone, and a small read pool for searches.
type textDB struct {
	wdb *sql.DB
	rdb *sql.DB
	// mu serialises writes (the indexer, and FlushIndex from a test).
	mu    sync.Mutex
	vocab vocabulary
}

func textPath(dbPath string) string {
	return filepath.Join(filepath.Dir(dbPath), "text.db")
}

func openTextDB(ctx context.Context, path string) (*textDB, error) {
	// The text writer commits a few times a second, in large batches that
	// merge FTS5 segments: a larger cache pays there.
	wdb, err := sql.Open("sqlite", dsnCache(path, false, 32768))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: text index: %w", err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetConnMaxIdleTime(0)
	if _, err := wdb.ExecContext(ctx, textSchema); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlstore: text index: %w", err)
	}
	// FTS5 merges a level's segments once automerge of them wait: every
	// word is copied once per level, so the merge work per body grows with
	// the number of levels, log(index size) in base automerge. The default,
	// 4, made merging the part of indexing that grew most as the store
	// grew; 8 has fewer levels for the same index (a search reads up to 7
	// segments per level instead of 3, still a handful).
	if _, err := wdb.ExecContext(ctx, fmt.Sprintf(`INSERT INTO text_index (text_index, rank) VALUES ('automerge', %d)`, textAutomerge)); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlstore: text index: %w", err)
	}
	rdb, err := sql.Open("sqlite", dsn(path, true))
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlstore: text index: %w", err)
	}
	rdb.SetMaxOpenConns(readConns)
	rdb.SetMaxIdleConns(readConns)
	return &textDB{wdb: wdb, rdb: rdb}, nil
}

func (t *textDB) close() error {
	return errors.Join(t.wdb.Close(), t.rdb.Close())
}

// write adds the words of rows and removes the bodies in gone, in one
// durable transaction of a few statements whatever the number of bodies:
// FTS5 writes out what it holds in memory at every statement's savepoint,
// so a statement per body made a tiny index segment per body, and merging
// them cost more than the rest of a delivery. With again, bodies may be in
// the index already (written again after a crash between the two
// databases' commits): they are removed first, so never indexed twice.
func (t *textDB) write(ctx context.Context, rows []ftsRow, gone []int64, again bool) (err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tx, err := t.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
			t.vocab.known = nil // the words it recorded went with it
		}
	}()
	if again {
		for _, r := range rows {
			gone = append(gone, r.blobID)
		}
	}
	if len(gone) > 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM text_index WHERE rowid IN (SELECT value FROM json_each(?))`, idSet(gone)); err != nil {
			return err
		}
	}
	if len(rows) == 0 {
		return tx.Commit()
	}
	if err := t.vocab.add(ctx, tx, rows); err != nil {
		return err
	}
	docs, err := json.Marshal(docRows(rows))
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO text_index (rowid, body, headers)
		SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?)`, string(docs)); err != nil {
		return err
	}
	return tx.Commit()
}

// docRows are the rows as [id, body words, header words] for json_each.
func docRows(rows []ftsRow) [][3]any {
	out := make([][3]any, len(rows))
	for i, r := range rows {
		out[i] = [3]any{r.blobID, r.terms.body, r.terms.headers}
	}
	return out
}

// candidates returns the ids of the bodies the index query matches, as a
// JSON array, and their number.
func (t *textDB) candidates(ctx context.Context, match string) (string, int, error) {
	rows, err := t.rdb.QueryContext(ctx, `SELECT rowid FROM text_index WHERE text_index MATCH ?`, match)
	if err != nil {
		return "", 0, err
	}
	defer rows.Close()
	ids := []byte{'['}
	n := 0
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return "", 0, err
		}
		if len(ids) > 1 {
			ids = append(ids, ',')
		}
		ids = strconv.AppendInt(ids, id, 10)
		n++
	}
	return string(append(ids, ']')), n, rows.Err()
}

// termsContaining lists the indexed words that contain w, or nil when
// there are more than limit.
func (t *textDB) termsContaining(ctx context.Context, w string, limit int) ([]string, error) {
	query, args := vocabQuery(w, limit+1)
	rows, err := t.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	terms := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		terms = append(terms, s)
	}
	if len(terms) > limit {
		return nil, rows.Err()
	}
	return terms, rows.Err()
}

// execer is what the vocabulary writes through.
type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}
