package sqlstore

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"net/textproto"
	"strings"
	"unicode"
	"unicode/utf8"

	"postern/internal/message"
	"postern/internal/store"
)

const (
	// maxNeedleLen bounds a search string and a header name.
	maxNeedleLen = 1024
	// maxVocabTerms is the most indexed words a search string may be part
	// of for the word index to narrow the candidates; beyond, every
	// message's text is scanned.
	maxVocabTerms = 1000
	// vocabRatio: the word index covers every mailbox, so reading its
	// vocabulary pays only while it is not much larger than the mailbox.
	vocabRatio = 4
	// maxRefsHeader bounds how much of a message's header References
	// reads for a message whose header lines are not kept.
	maxRefsHeader = 256 << 10
)

// SearchText implements store.TextSearcher. The candidates are narrowed
// with an index where that is sound and cheap (the header trigrams, the
// word index's vocabulary), then each candidate's folded text from
// blob_text is compared here: bytes.Index beats SQL instr() several times
// over. Messages without a blob_text row (stored before migration 0003)
// are parsed afterwards.
func (s *Store) SearchText(ctx context.Context, mailboxID int64, q store.TextQuery) ([]uint32, error) {
	if len(q.Needle) > maxNeedleLen || len(q.Header) > maxNeedleLen {
		return nil, invalid("search term too long")
	}
	m := newTextMatcher(q)
	query, args, err := s.textQuery(ctx, mailboxID, m)
	if err != nil {
		return nil, err
	}
	uids, missing, err := s.scanText(ctx, m, query, args)
	if err != nil {
		return nil, err
	}
	return s.matchUnkept(ctx, m, uids, missing)
}

// textMatcher is a TextQuery in the folded form blob_text holds.
type textMatcher struct {
	field  store.TextField
	needle []byte
	// prefix is the folded "name:" that starts the lines of a named
	// header field; nil when any header text counts.
	prefix []byte
}

func newTextMatcher(q store.TextQuery) *textMatcher {
	m := &textMatcher{field: q.Field, needle: foldedText(q.Needle)}
	if q.Field == store.TextHeaders && q.Header != "" {
		m.prefix = append(foldedText(q.Header), ':')
	}
	return m
}

// match compares the folded texts of one message.
func (m *textMatcher) match(body, headers []byte) bool {
	switch {
	case m.prefix != nil:
		return headerHas(headers, m.prefix, m.needle)
	case m.field == store.TextHeaders:
		return bytes.Contains(headers, m.needle)
	case m.field == store.TextBody:
		return bytes.Contains(body, m.needle)
	}
	return bytes.Contains(body, m.needle) || bytes.Contains(headers, m.needle)
}

// headerHas tells whether folded header lines ("name: value") hold a line
// starting with prefix whose value contains needle; an empty needle asks
// only for the field (RFC 9051 §6.4.4 HEADER).
func headerHas(headers, prefix, needle []byte) bool {
	if !bytes.Contains(headers, needle) || !bytes.Contains(headers, prefix) {
		return false // the common case, decided without splitting lines
	}
	for len(headers) > 0 {
		line := headers
		if i := bytes.IndexByte(headers, '\n'); i >= 0 {
			line, headers = headers[:i], headers[i+1:]
		} else {
			headers = nil
		}
		if v, ok := bytes.CutPrefix(line, prefix); ok && bytes.Contains(bytes.TrimPrefix(v, []byte(" ")), needle) {
			return true
		}
	}
	return false
}

// textQuery builds the SQL that lists the candidates of m with the folded
// text it needs; messages without stored text come out too, flagged.
func (s *Store) textQuery(ctx context.Context, mailboxID int64, m *textMatcher) (string, []any, error) {
	// headers comes first in blob_text: a search of headers alone does not
	// walk the body's overflow pages.
	cols := `x'', t.body`
	switch m.field {
	case store.TextHeaders:
		cols = `t.headers, x''`
	case store.TextAll:
		cols = `t.headers, t.body`
	}
	// One column tells both whether the text is kept (0) and, when not,
	// which body to parse: every scanned column costs on every row.
	query := `SELECT m.uid, IIF(t.blob_id IS NULL, m.blob_id, 0), ` + cols + `
		FROM messages m LEFT JOIN blob_text t ON t.blob_id = m.blob_id
		WHERE m.mailbox_id = ?1`
	args := []any{mailboxID}
	narrow := ""
	if m.field == store.TextHeaders {
		// Header searches narrow through the trigram index of the folded
		// headers when it can answer; others scan, header lines being
		// short and first in a row.
		if phrase, ok := trigramPhrase(string(m.needle)); ok {
			narrow = `SELECT rowid FROM blob_header_tri WHERE blob_header_tri MATCH ?2`
			args = append(args, phrase)
		}
	} else {
		match, err := s.candidates(ctx, mailboxID, string(m.needle))
		if err != nil {
			return "", nil, err
		}
		if match != "" {
			narrow = `SELECT rowid FROM blob_fts WHERE blob_fts MATCH ?2`
			args = append(args, match)
		}
	}
	if narrow != "" {
		query += ` AND (t.blob_id IS NULL OR m.blob_id IN (` + narrow + `))`
	}
	return query + ` ORDER BY m.uid`, args, nil
}

// unkept is a message whose text the store does not keep (blobID not 0).
type unkept struct {
	uid    uint32
	blobID int64
}

// scanText runs the candidate query and compares each row's text.
func (s *Store) scanText(ctx context.Context, m *textMatcher, query string, args []any) ([]uint32, []unkept, error) {
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var uids []uint32
	var missing []unkept
	for rows.Next() {
		var u unkept
		var headers, body sql.RawBytes
		if err := rows.Scan(&u.uid, &u.blobID, &headers, &body); err != nil {
			return nil, nil, err
		}
		switch {
		case u.blobID != 0:
			missing = append(missing, u)
		case m.match(body, headers):
			uids = append(uids, u.uid)
		}
	}
	return uids, missing, rows.Err()
}

// matchUnkept parses the bodies of messages without stored text, as
// delivery would have, and adds those matching to uids in UID order.
func (s *Store) matchUnkept(ctx context.Context, m *textMatcher, uids []uint32, missing []unkept) ([]uint32, error) {
	if len(missing) == 0 {
		return uids, nil
	}
	var found []uint32
	for _, u := range missing {
		p, err := s.parseBlob(ctx, u.blobID)
		if err != nil {
			return nil, err
		}
		if p != nil && m.match(foldedText(clipText(p.SearchText)), foldedText(clipText(p.Headers))) {
			found = append(found, u.uid)
		}
	}
	return mergeUIDs(uids, found), nil
}

// parseBlob parses a body; nil when it is gone (expunged meanwhile).
func (s *Store) parseBlob(ctx context.Context, blobID int64) (*message.Parsed, error) {
	rc, err := s.OpenBlob(ctx, blobID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return message.Parse(rc, message.DefaultLimits())
}

// mergeUIDs merges two ascending lists.
func mergeUIDs(a, b []uint32) []uint32 {
	out := make([]uint32, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0] < b[0] {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// References implements store.TextSearcher from the folded header lines
// of blob_text (so the values come folded), narrowed by the header
// trigrams; messages without them are read from their bodies and folded
// alike.
func (s *Store) References(ctx context.Context, mailboxID int64) (map[uint32]string, error) {
	const prefix = "references:"
	rows, err := s.rdb.QueryContext(ctx, `SELECT m.uid, IIF(t.blob_id IS NULL, m.blob_id, 0), t.headers
		FROM messages m LEFT JOIN blob_text t ON t.blob_id = m.blob_id
		WHERE m.mailbox_id = ? AND (t.blob_id IS NULL
			OR m.blob_id IN (SELECT rowid FROM blob_header_tri WHERE blob_header_tri MATCH ?))`,
		mailboxID, ftsPhrase(prefix))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	refs := map[uint32]string{}
	var missing []unkept
	for rows.Next() {
		var u unkept
		var headers sql.RawBytes
		if err := rows.Scan(&u.uid, &u.blobID, &headers); err != nil {
			return nil, err
		}
		if u.blobID != 0 {
			missing = append(missing, u)
		} else if v, ok := headerValues(headers, []byte(prefix)); ok {
			refs[u.uid] = v
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	for _, u := range missing {
		if v, ok, err := s.blobReferences(ctx, u.blobID); err != nil {
			return nil, err
		} else if ok {
			refs[u.uid] = store.FoldText(v)
		}
	}
	return refs, nil
}

// headerValues joins the values of the header lines starting with prefix.
func headerValues(headers, prefix []byte) (string, bool) {
	var vals []string
	for line := range bytes.SplitSeq(headers, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, prefix); ok {
			vals = append(vals, string(v))
		}
	}
	return strings.Join(vals, " "), vals != nil
}

// blobReferences reads the References fields from a body's header.
func (s *Store) blobReferences(ctx context.Context, blobID int64) (string, bool, error) {
	rc, err := s.OpenBlob(ctx, blobID)
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	defer rc.Close()
	// A malformed header still yields the fields read before the fault.
	h, _ := textproto.NewReader(bufio.NewReader(io.LimitReader(rc, maxRefsHeader))).ReadMIMEHeader()
	v, ok := h["References"]
	return strings.Join(v, " "), ok, nil
}

// ftsPhrase quotes s as one FTS5 string: with the trigram tokenizer a
// phrase of three or more characters matches every row that contains s.
func ftsPhrase(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// trigramPhrase is the trigram query for rows containing s, unless the
// index cannot answer it: the tokenizer matches nothing for fewer than
// three characters, and FTS5 reads a query only up to a NUL byte.
func trigramPhrase(s string) (string, bool) {
	if utf8.RuneCountInString(s) < 3 || strings.IndexByte(s, 0) >= 0 {
		return "", false
	}
	return ftsPhrase(s), true
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

var (
	_ store.TextSearcher = (*Store)(nil)
	_ store.Mailstore    = (*Store)(nil)
)
