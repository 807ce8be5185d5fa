package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"strings"
	"unicode"

	"postern/internal/store"
)

const (
	// maxNeedleLen bounds a substring search term, like maxSearchTermLen
	// does for the word index.
	maxNeedleLen = 1024
	// maxVocabTerms is the most indexed words a search string may be part
	// of for the word index to narrow the candidates; beyond, every
	// message's text is scanned.
	maxVocabTerms = 1000
	// vocabRatio: the word index covers every mailbox, so reading its
	// vocabulary pays only while it is not much larger than the mailbox.
	vocabRatio = 4
)

// SearchSubstring implements store.SubstringSearcher. Body and text
// searches first narrow the candidates with the word index where that is
// sound and cheap (candidates); then every candidate's folded text is
// compared here: bytes.Index beats SQL instr() several times over.
func (s *Store) SearchSubstring(ctx context.Context, mailboxID int64, field store.TextField, needle string) ([]store.TextHit, []uint32, error) {
	if len(needle) > maxNeedleLen {
		return nil, nil, invalid("search term too long")
	}
	n := []byte(store.FoldText(needle))
	cols := `t.body, x''`
	switch field {
	case store.TextHeaders:
		cols = `x'', t.headers`
	case store.TextAll:
		cols = `t.body, t.headers`
	}
	query := `SELECT m.uid, t.blob_id IS NULL, ` + cols + `
		FROM messages m LEFT JOIN blob_text t ON t.blob_id = m.blob_id
		WHERE m.mailbox_id = ?1`
	args := []any{mailboxID}
	// Header searches of three or more bytes narrow through the trigram
	// index of the folded headers; shorter ones scan (header lines are
	// short and come first in a row).
	if field == store.TextHeaders && len(n) >= 3 {
		// Messages without stored text still come out, as missing.
		query += ` AND (t.blob_id IS NULL OR m.blob_id IN (SELECT rowid FROM blob_header_tri WHERE blob_header_tri MATCH ?2))`
		args = append(args, ftsPhrase(string(n)))
	}
	if field != store.TextHeaders {
		match, err := s.candidates(ctx, mailboxID, string(n))
		if err != nil {
			return nil, nil, err
		}
		if match != "" {
			// Messages without stored text still come out, as missing.
			query += ` AND (t.blob_id IS NULL OR m.blob_id IN (SELECT rowid FROM blob_fts WHERE blob_fts MATCH ?2))`
			args = append(args, match)
		}
	}
	rows, err := s.rdb.QueryContext(ctx, query+` ORDER BY m.uid`, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var hits []store.TextHit
	var missing []uint32
	for rows.Next() {
		var uid uint32
		var none bool
		var body, headers sql.RawBytes
		if err := rows.Scan(&uid, &none, &body, &headers); err != nil {
			return nil, nil, err
		}
		switch {
		case none:
			missing = append(missing, uid)
		case field == store.TextHeaders && bytes.Contains(headers, n):
			hits = append(hits, store.TextHit{UID: uid, Headers: string(headers)})
		case field != store.TextHeaders && (bytes.Contains(body, n) || bytes.Contains(headers, n)):
			hits = append(hits, store.TextHit{UID: uid})
		}
	}
	return hits, missing, rows.Err()
}

// ftsPhrase quotes s as one FTS5 string: with the trigram tokenizer a
// phrase matches every row that contains s.
func ftsPhrase(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// candidates returns an FTS5 query matching a superset of the messages
// whose text contains the folded needle, or "" when the whole mailbox must
// be scanned. Soundness: a match of an ASCII letter-and-digit run of the
// needle lies inside one indexed word (the tokenizer splits only at other
// characters, and folds ASCII case as FoldText does), so some indexed word
// contains the needle's longest such run; the query lists all those words.
// A needle with no such run, or with other letters (which the index
// stores without diacritics), gets "". A query that can match nothing is
// returned as a term no word equals.
func (s *Store) candidates(ctx context.Context, mailboxID int64, needle string) (string, error) {
	words := strings.FieldsFunc(needle, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
	w := ""
	for _, x := range words {
		for _, r := range x {
			if r >= 0x80 {
				return "", nil
			}
		}
		if len(x) > len(w) {
			w = x
		}
	}
	if w == "" {
		return "", nil
	}
	var msgs, blobs int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM messages WHERE mailbox_id = ?),
		(SELECT COALESCE(MAX(id), 0) FROM blobs)`, mailboxID).Scan(&msgs, &blobs); err != nil {
		return "", err
	}
	if blobs > vocabRatio*msgs {
		return "", nil
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT term FROM blob_fts_terms WHERE instr(term, ?) > 0 LIMIT ?`, w, maxVocabTerms+1)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var terms []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return "", err
		}
		terms = append(terms, `"`+strings.ReplaceAll(t, `"`, `""`)+`"`)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	switch {
	case len(terms) > maxVocabTerms:
		return "", nil
	case len(terms) == 0:
		return `"` + w + ` ` + w + `" NOT "` + w + `"`, nil // matches nothing
	}
	return strings.Join(terms, " OR "), nil
}

// foldedText is the blob_text form of s; never nil, which SQL would store
// as NULL.
func foldedText(s string) []byte {
	return store.AppendFolded(make([]byte, 0, len(s)), s)
}

var _ store.SubstringSearcher = (*Store)(nil)
