package sqlstore

import (
	"context"
	"strings"
	"unicode"

	"postern/internal/store"
)

// Limits on a search.
const (
	maxSearchTerms   = 64
	maxSearchTermLen = 256
)

// ftsQuery turns IMAP search strings into an FTS5 query: each term becomes
// a phrase of its words, the last one a prefix, and all terms must match.
// The index holds words, so a term matches where a word starts with it:
// "mee" finds "meeting", but "eting" does not (IMAP asks for substrings,
// RFC 3501 §6.4.4; callers wanting exact substring semantics filter the
// candidates further). Terms without letters or digits constrain nothing.
func ftsQuery(terms []string, headersOnly bool) (string, error) {
	if len(terms) > maxSearchTerms {
		return "", invalid("%d search terms", len(terms))
	}
	var parts []string
	for _, t := range terms {
		if len(t) > maxSearchTermLen {
			return "", invalid("search term too long")
		}
		words := strings.FieldsFunc(t, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
		if len(words) == 0 {
			continue
		}
		// Only letters and digits remain, so the quotes need no escaping.
		parts = append(parts, `"`+strings.Join(words, " ")+`"*`)
	}
	if len(parts) == 0 {
		return "", nil
	}
	q := strings.Join(parts, " AND ")
	if headersOnly {
		q = "headers : (" + q + ")"
	}
	return q, nil
}

// SearchText implements store.Mailstore.
func (s *Store) SearchText(ctx context.Context, mailboxID int64, terms []string, headersOnly bool) ([]uint32, error) {
	q, err := ftsQuery(terms, headersOnly)
	if err != nil {
		return nil, err
	}
	query := `SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid`
	args := []any{mailboxID}
	if q != "" {
		query = `SELECT uid FROM messages WHERE mailbox_id = ?
			AND blob_id IN (SELECT rowid FROM blob_fts WHERE blob_fts MATCH ?) ORDER BY uid`
		args = append(args, q)
	}
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var u uint32
		if err := rows.Scan(&u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

var _ store.Mailstore = (*Store)(nil)
