package sqlstore

import (
	"database/sql"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzSearchQuery checks that no client search string can produce an FTS5
// query SQLite rejects (or that escapes the column filter).
func FuzzSearchQuery(f *testing.F) {
	db, err := sql.Open("sqlite", "file::memory:")
	if err != nil {
		f.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	defer db.Close()
	if _, err := db.Exec(`CREATE VIRTUAL TABLE t USING fts5(search_text, headers, content='', contentless_delete=1,
		tokenize='unicode61 remove_diacritics 2');
		INSERT INTO t (rowid, search_text, headers) VALUES (1, 'hello world', 'Subject: hi');`); err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"hello", `"`, `a" OR "b`, "NEAR(a b)", "headers: x", "*", "^x", "a AND", "(", "Café", "x\x00y", "日本語", "-x", "{a b}: c"} {
		f.Add(s, s, false)
		f.Add(s, "", true)
	}
	f.Fuzz(func(t *testing.T, a, b string, headers bool) {
		q, err := ftsQuery([]string{a, b}, headers)
		if err != nil {
			if len(a) <= maxSearchTermLen && len(b) <= maxSearchTermLen {
				t.Fatalf("ftsQuery(%q, %q): %v", a, b, err)
			}
			return
		}
		if q == "" {
			return
		}
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM t WHERE t MATCH ?`, q).Scan(&n); err != nil {
			t.Fatalf("MATCH %q (from %q, %q): %v", q, a, b, err)
		}
	})
}

// FuzzNames checks the normalisation of names that come from clients.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"INBOX", "inbox/Sub", "a/b/c", "/x", "a//b", "Ünïcode", "a\x00", "Alice@Example.ORG", "$Label1", `\Seen`, "x@y@z.org"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := normMailbox(s); err == nil {
			if n2, err := normMailbox(n); err != nil || n2 != n {
				t.Fatalf("normMailbox not idempotent: %q -> %q -> %q %v", s, n, n2, err)
			}
			if !utf8.ValidString(n) || strings.ContainsAny(n, "\x00\r\n*%") || len(n) > maxMailboxName {
				t.Fatalf("normMailbox(%q) = %q", s, n)
			}
		}
		if kw, err := normKeywords([]string{s, strings.ToUpper(s)}); err == nil {
			if len(kw) != 1 || strings.ContainsAny(kw[0], " ()\\\"") {
				t.Fatalf("normKeywords(%q) = %q", s, kw)
			}
		}
		if a, d, err := normAddress(s); err == nil {
			if a2, d2, err := normAddress(a); err != nil || a2 != a || d2 != d {
				t.Fatalf("normAddress not idempotent: %q -> %q -> %q %v", s, a, a2, err)
			}
			if a != strings.ToLower(a) || !strings.HasSuffix(a, "@"+d) || strings.ContainsAny(a, " \r\n") {
				t.Fatalf("normAddress(%q) = %q, %q", s, a, d)
			}
		}
	})
}
