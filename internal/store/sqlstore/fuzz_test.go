package sqlstore

import (
	"database/sql"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"postern/internal/store"
)

// FuzzSearchQuery checks the word index's narrowing against the plain
// definition of a match (FoldText(needle) in FoldText(text)): a needle of
// one word is in the text exactly when an indexed word contains it; any
// other needle's longest word is in some indexed word whenever the needle
// is in the text; and every indexed word, quoted as a query builds it, is
// found again through FTS5's ascii tokenizer.
func FuzzSearchQuery(f *testing.F) {
	db, err := sql.Open("sqlite", "file::memory:")
	if err != nil {
		f.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	defer db.Close()
	for _, q := range []string{
		`CREATE VIRTUAL TABLE t USING fts5(body, content='', contentless_delete=1, detail=column, tokenize='ascii')`,
		`CREATE TABLE text_vocab (id INTEGER PRIMARY KEY, term TEXT NOT NULL UNIQUE)`,
		`CREATE VIRTUAL TABLE text_vocab_tri USING fts5(term, content='', detail=none, tokenize='trigram')`,
	} {
		if _, err := db.Exec(q); err != nil {
			f.Fatal(err)
		}
	}
	for _, s := range []string{"hello", `"`, `a" OR "b`, "NEAR(a b)", "body: x", "*", "^x", "Café", "x\x00y", "日本語", "-x", "{a b}: c", "éé", "ſ K İ ß", "a\nb c", "meet-ing"} {
		f.Add("Subject: "+s+" and more text", s)
	}
	f.Fuzz(func(t *testing.T, text, needle string) {
		terms, complete := indexTerms(text)
		words := strings.Fields(terms)
		folded, fneedle := store.FoldText(text), store.FoldText(needle)
		runs := needleRuns(fneedle)
		if complete && len(runs) > 0 {
			longest := runs[0]
			for _, r := range runs {
				if len(r) > len(longest) {
					longest = r
				}
			}
			inWord := slices.ContainsFunc(words, func(w string) bool { return strings.Contains(w, longest) })
			in := strings.Contains(folded, fneedle)
			if in && !inWord {
				t.Fatalf("%q is in %q but no indexed word contains %q (words %q)", fneedle, folded, longest, words)
			}
			if len(runs) == 1 && runs[0] == fneedle && inWord != in {
				t.Fatalf("one-word needle %q: in text %v, in a word %v", fneedle, in, inWord)
			}
		}
		// Words waiting for the indexer answer as the index does.
		m := newTextMatcher(store.TextQuery{Field: store.TextBody, Needle: needle})
		in := m.match(foldedText(text), nil)
		switch v := m.matchTerms(textTerms{body: terms, complete: complete}); {
		case v == textNo && in, v == textYes && !in:
			t.Fatalf("needle %q in %q: the words say %d, the text %v", needle, text, v, in)
		}
		if _, err := db.Exec(`INSERT INTO t (t) VALUES ('delete-all'); INSERT INTO t (rowid, body) VALUES (1, ?);
			DELETE FROM text_vocab; INSERT INTO text_vocab_tri (text_vocab_tri) VALUES ('delete-all')`, terms); err != nil {
			t.Fatal(err)
		}
		for i, w := range words {
			if _, err := db.Exec(`INSERT INTO text_vocab (id, term) VALUES (?, ?); INSERT INTO text_vocab_tri (rowid, term) VALUES (?, ?)`, i+1, w, i+1, w); err != nil {
				t.Fatal(err)
			}
		}
		// The vocabulary finds exactly the words that contain a run.
		for _, r := range runs {
			q, args := vocabQuery(r, 1000)
			rows, err := db.Query(q, args...)
			if err != nil {
				t.Fatalf("vocabulary query for %q: %v", r, err)
			}
			var got []string
			for rows.Next() {
				var w string
				rows.Scan(&w)
				got = append(got, w)
			}
			rows.Close()
			var want []string
			for _, w := range words {
				if strings.Contains(w, r) {
					want = append(want, w)
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("words containing %q: got %q, want %q", r, got, want)
			}
		}
		for _, w := range words {
			var n int
			if err := db.QueryRow(`SELECT COUNT(*) FROM t WHERE t MATCH ?`, "{body} : (\""+w+"\")").Scan(&n); err != nil || n != 1 {
				t.Fatalf("indexed word %q not found again: %d %v", w, n, err)
			}
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

// BenchmarkIndexTerms cuts the words of 100 KiB of text from a small
// vocabulary, as the benchmark harness's large messages have.
func BenchmarkIndexTerms(b *testing.B) {
	vocab := strings.Fields("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu mail server queue message deliver storage index folder search benchmark latency the and of to in report meeting invoice project")
	var sb strings.Builder
	for i := 0; sb.Len() < 100<<10; i++ {
		sb.WriteString(vocab[(i*7919)%len(vocab)])
		sb.WriteByte(' ')
	}
	text := sb.String()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		indexTerms(text)
	}
}
