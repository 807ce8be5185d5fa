package sqlstore

import (
	"database/sql"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzSearchQuery checks the trigram narrowing of header searches: the
// phrase built from any folded search string is a query SQLite accepts,
// and one of three or more characters finds every row containing it (a
// miss would lose a match).
func FuzzSearchQuery(f *testing.F) {
	db, err := sql.Open("sqlite", "file::memory:")
	if err != nil {
		f.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	defer db.Close()
	if _, err := db.Exec(`CREATE VIRTUAL TABLE t USING fts5(headers, tokenize = 'trigram case_sensitive 1')`); err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"hello", `"`, `a" OR "b`, "NEAR(a b)", "headers: x", "*", "^x", "a AND", "(", "Café", "x\x00y", "日本語", "-x", "{a b}: c", "éé", "a\nb c"} {
		f.Add("subject: "+s+" and more", s)
	}
	f.Fuzz(func(t *testing.T, row, needle string) {
		row, needle = string(foldedText(row)), string(foldedText(needle))
		if _, err := db.Exec(`DELETE FROM t; INSERT INTO t (rowid, headers) VALUES (1, ?)`, row); err != nil {
			t.Fatal(err)
		}
		phrase, ok := trigramPhrase(needle)
		if !ok {
			return // the search scans
		}
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM t WHERE t MATCH ?`, phrase).Scan(&n); err != nil {
			t.Fatalf("MATCH %q: %v", phrase, err)
		}
		if n == 0 && strings.Contains(row, needle) {
			t.Fatalf("%q in %q not found through the trigrams", needle, row)
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
