package sqlstore

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"net/textproto"
	"slices"
	"strings"

	"postern/internal/message"
	"postern/internal/store"
)

const (
	// maxNeedleLen bounds a search string and a header name.
	maxNeedleLen = 1024
	// maxVocabTerms is the most indexed words a search string may be part
	// of for the index to narrow the candidates; beyond, every message of
	// the mailbox is checked.
	maxVocabTerms = 2000
	// maxNeedleRuns is how many of a needle's runs of letters and digits
	// (the longest) narrow the candidates together.
	maxNeedleRuns = 3
	// maxRefsHeader bounds how much of a message's header References
	// reads for a message whose References the store has not kept yet.
	maxRefsHeader = 256 << 10
)

// SearchText implements store.TextSearcher. The text index narrows the
// candidates (terms.go): for a needle that is one run of letters and
// digits, searched in the whole text, the body or the headers, a body
// fully indexed matches exactly when it has a word containing the needle,
// and nothing more is read. Otherwise, and for bodies the index does not
// fully cover, each candidate's decoded text is checked.
func (s *Store) SearchText(ctx context.Context, mailboxID int64, q store.TextQuery) ([]uint32, error) {
	if len(q.Needle) > maxNeedleLen || len(q.Header) > maxNeedleLen {
		return nil, invalid("search term too long")
	}
	m := newTextMatcher(q)
	match, exact, err := s.textCandidates(ctx, m)
	if err != nil {
		return nil, err
	}
	msgs, err := s.textScan(ctx, mailboxID, match)
	if err != nil {
		return nil, err
	}
	var uids []uint32
	var check []unkept
	for _, u := range msgs {
		verdict := textMaybe
		switch {
		case u.indexed && exact:
			verdict = textYes
		case !u.indexed:
			// Words waiting for the indexer answer as the index would.
			if t, ok := s.idx.waitingTerms(u.blobID); ok {
				verdict = m.matchTerms(t)
			}
		}
		switch verdict {
		case textYes:
			uids = append(uids, u.uid)
		case textMaybe:
			check = append(check, u.unkept)
		}
	}
	return s.checkText(ctx, m, uids, check)
}

// maxSeekCandidates is the most bodies found in text.db that a search
// looks up one by one; with more, it reads the mailbox's whole range.
var maxSeekCandidates = 2000

// textState is a message of a mailbox and whether the text index holds
// every word of its body.
type textState struct {
	unkept
	indexed bool
}

// textScan lists in UID order the messages of a mailbox that may match:
// with match, those whose bodies text.db finds for it and those whose
// bodies it does not fully cover; without, all of them. The mail database
// is read first, in a transaction: the indexer writes a body's words into
// text.db before it marks the body indexed, so every body indexed in this
// snapshot has its words in what text.db answers after.
func (s *Store) textScan(ctx context.Context, mailboxID int64, match string) ([]textState, error) {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var one int
	if err := tx.QueryRowContext(ctx, `SELECT 1 FROM mailboxes LIMIT 1`).Scan(&one); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err // the snapshot starts at this first read
	}
	query := `SELECT m.uid, m.blob_id, b.text_state = 0 FROM messages m JOIN blobs b ON b.id = m.blob_id
		WHERE m.mailbox_id = ? ORDER BY m.uid`
	args := []any{mailboxID}
	if match != "" {
		cand, n, err := s.text.candidates(ctx, match)
		if err != nil {
			return nil, err
		}
		// The filter runs inside SQLite, which hands back only the rows
		// that may match. Few candidates are looked up by body in the
		// index on messages(blob_id) (it holds mailbox_id and uid);
		// more are checked along the mailbox's range.
		query = `WITH partial(id) AS (SELECT id FROM blobs WHERE text_state <> 0)
			SELECT uid, blob_id, blob_id NOT IN partial FROM messages
			WHERE mailbox_id = ? AND (blob_id IN (SELECT value FROM json_each(?)) OR blob_id IN partial)
			ORDER BY uid`
		if n <= maxSeekCandidates {
			query = `WITH partial(id) AS (SELECT id FROM blobs WHERE text_state <> 0)
				SELECT uid, blob_id, 1 FROM messages INDEXED BY messages_blob
				WHERE blob_id IN (SELECT value FROM json_each(?1)) AND mailbox_id = ?2 AND blob_id NOT IN partial
				UNION ALL
				SELECT uid, blob_id, 0 FROM messages INDEXED BY messages_blob WHERE blob_id IN partial AND mailbox_id = ?2
				ORDER BY 1`
			args = []any{cand, mailboxID}
		} else {
			args = append(args, cand)
		}
	}
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []textState
	for rows.Next() {
		var t textState
		if err := rows.Scan(&t.uid, &t.blobID, &t.indexed); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// textCandidates returns the text_index query that finds a superset of the
// matches of m ("" when the index cannot narrow them), and whether its
// answer is exact for fully indexed bodies.
func (s *Store) textCandidates(ctx context.Context, m *textMatcher) (string, bool, error) {
	runs := needleRuns(string(m.needle))
	exact := len(runs) == 1 && len(runs[0]) == len(m.needle) && m.prefix == nil
	if m.prefix != nil {
		// The field's name starts a line of the header text: its words
		// are in every message that has the field.
		runs = append(runs, needleRuns(string(m.prefix[:len(m.prefix)-1]))...)
	}
	if len(runs) == 0 {
		if len(m.needle) == 0 && m.prefix == nil {
			return "", true, nil // every message contains ""
		}
		return "", false, nil
	}
	col := ""
	switch m.field {
	case store.TextBody:
		col = "body"
	case store.TextHeaders:
		col = "headers"
	}
	// Every run of letters and digits of the needle lies inside one word
	// of a matching text, so a match has, for each run, a word containing
	// it: the candidates are the messages that have one for each of the
	// needle's longest runs (a common word alone, "topic" of "topic-42",
	// would make every message a candidate).
	sorted := slices.Clone(runs)
	slices.SortStableFunc(sorted, func(a, b string) int { return len(b) - len(a) })
	var groups []string
	for _, r := range sorted[:min(len(sorted), maxNeedleRuns)] {
		terms, err := s.text.termsContaining(ctx, r, maxVocabTerms)
		if err != nil {
			return "", false, err
		}
		if terms == nil {
			continue // too many words contain it to narrow anything
		}
		if len(terms) == 0 {
			// No word contains it: nothing can match (the NOT makes a
			// query that matches no row).
			return `"` + r + `" NOT "` + r + `"`, exact, nil
		}
		for i, t := range terms {
			terms[i] = `"` + t + `"`
		}
		groups = append(groups, "("+strings.Join(terms, " OR ")+")")
	}
	if len(groups) == 0 {
		return "", false, nil
	}
	q := strings.Join(groups, " AND ")
	if col != "" {
		q = "{" + col + "} : (" + q + ")"
	}
	return q, exact, nil
}

// textMatcher is a TextQuery in the folded form blob_text holds.
type textMatcher struct {
	field  store.TextField
	needle []byte
	// prefix is the folded "name:" that starts the lines of a named
	// header field; nil when any header text counts.
	prefix []byte
	// longest is the needle's longest run of letters and digits (words
	// are cut at the others); oneWord tells the needle is that run alone.
	longest string
	oneWord bool
}

func newTextMatcher(q store.TextQuery) *textMatcher {
	m := &textMatcher{field: q.Field, needle: foldedText(q.Needle)}
	if q.Field == store.TextHeaders && q.Header != "" {
		m.prefix = append(foldedText(q.Header), ':')
	}
	runs := needleRuns(string(m.needle))
	for _, r := range runs {
		if len(r) > len(m.longest) {
			m.longest = r
		}
	}
	m.oneWord = len(runs) == 1 && len(runs[0]) == len(m.needle) && m.prefix == nil
	return m
}

// What a body's words tell of a search.
const (
	textNo = iota
	textYes
	textMaybe // its text must be read
)

// matchTerms answers for a body from its distinct words, as the text index
// would: no word containing the needle's longest run rules it out, and a
// one-word needle found in a word of a complete body is a match.
func (m *textMatcher) matchTerms(t textTerms) int {
	if !t.complete {
		return textMaybe
	}
	if m.longest == "" {
		if len(m.needle) == 0 && m.prefix == nil {
			return textYes
		}
		return textMaybe
	}
	var found bool
	switch m.field {
	case store.TextBody:
		found = strings.Contains(t.body, m.longest)
	case store.TextHeaders:
		found = strings.Contains(t.headers, m.longest)
	default:
		found = strings.Contains(t.body, m.longest) || strings.Contains(t.headers, m.longest)
	}
	switch {
	case !found:
		return textNo
	case m.oneWord:
		return textYes
	}
	return textMaybe
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

// unkept is a message whose text must be read to be checked.
type unkept struct {
	uid    uint32
	blobID int64
}

// checkText decodes the candidates' text, as delivery did, and adds those
// matching to uids in UID order. A search of header fields reads only the
// header of each.
func (s *Store) checkText(ctx context.Context, m *textMatcher, uids []uint32, check []unkept) ([]uint32, error) {
	if len(check) == 0 {
		return uids, nil
	}
	var found []uint32
	for _, u := range check {
		p, err := s.parseBlob(ctx, u.blobID, m.field == store.TextHeaders)
		if err != nil {
			return nil, err
		}
		if p != nil && m.match(foldedText(p.SearchText), foldedText(p.Headers)) {
			found = append(found, u.uid)
		}
	}
	return mergeUIDs(uids, found), nil
}

// parseBlob parses a body (only its header when headerOnly); nil when it
// is gone (expunged meanwhile).
func (s *Store) parseBlob(ctx context.Context, blobID int64, headerOnly bool) (*message.Parsed, error) {
	rc, err := s.OpenBlob(ctx, blobID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var r io.Reader = rc
	if headerOnly {
		head, err := readHeaderBlock(rc, message.DefaultLimits().MaxHeaderBytes)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(head)
	}
	return message.Parse(r, message.DefaultLimits())
}

// readHeaderBlock reads a message up to and including the blank line that
// ends its header, at most max bytes.
func readHeaderBlock(r io.Reader, max int) ([]byte, error) {
	br := bufio.NewReader(io.LimitReader(r, int64(max)))
	var head []byte
	for {
		line, err := br.ReadBytes('\n')
		head = append(head, line...)
		if err == io.EOF {
			return head, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return head, nil
		}
	}
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

// References implements store.TextSearcher from message_meta.refs, kept at
// delivery; messages stored before it was (their bodies not indexed yet)
// are read from their bodies. The values come folded.
func (s *Store) References(ctx context.Context, mailboxID int64) (map[uint32]string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT m.uid, mm.refs, IIF(b.text_state = 2 AND mm.refs = '', m.blob_id, 0)
		FROM messages m JOIN message_meta mm ON mm.message_id = m.id JOIN blobs b ON b.id = m.blob_id
		WHERE m.mailbox_id = ? AND (mm.refs <> '' OR b.text_state = 2)`, mailboxID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	refs := map[uint32]string{}
	var missing []unkept
	for rows.Next() {
		var u unkept
		var v string
		if err := rows.Scan(&u.uid, &v, &u.blobID); err != nil {
			return nil, err
		}
		if u.blobID != 0 {
			missing = append(missing, u)
		} else {
			refs[u.uid] = store.FoldText(v)
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

// foldedText is the folded form of s the matcher compares.
func foldedText(s string) []byte {
	return store.AppendFolded(make([]byte, 0, len(s)), s)
}

var (
	_ store.TextSearcher = (*Store)(nil)
	_ store.Mailstore    = (*Store)(nil)
)
