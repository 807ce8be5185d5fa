package sqlstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"postern/internal/message"
	"postern/internal/store"
)

// deliverText delivers a message with these header lines ("Name: value\n"
// each) and text to the account's INBOX, parsed as delivery parses it, and
// returns the UID.
func deliverText(tb testing.TB, s *Store, acct int64, text, headers string) uint32 {
	tb.Helper()
	body := []byte(strings.ReplaceAll(headers, "\n", "\r\n") + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text)
	p, err := message.Parse(bytes.NewReader(body), message.DefaultLimits())
	if err != nil {
		tb.Fatal(err)
	}
	meta := store.MessageMeta{SearchText: p.SearchText, Headers: p.Headers}
	res := deliverBytes(tb, s, body, meta, store.DeliveryTarget{AccountID: acct})
	if res[0].Err != nil {
		tb.Fatalf("deliver: %v", res[0].Err)
	}
	return res[0].UID
}

// ForgetText drops what the store kept of every message's text
// (storetest.TextForgetter), as in a database upgraded from before the
// text index whose bodies the indexer has not reached yet.
func (s *Store) ForgetText(ctx context.Context) error {
	if _, err := s.text.wdb.ExecContext(ctx, `INSERT INTO text_index (text_index) VALUES ('delete-all')`); err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, tx *wtx, _ *effects) error {
		if _, err := tx.ExecContext(ctx, `UPDATE message_meta SET refs = ''`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE blobs SET text_state = 2`)
		return err
	})
}

// TestSearchText covers the narrowing paths of this store; the contract
// itself is storetest's.
func TestSearchText(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if _, err := s.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "u@example.org", store.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	u1 := deliverText(t, s, a.ID, "Meeting at noon in MÜNCHEN", "Subject: Plans\nX-Tag: blue\n")
	u2 := deliverText(t, s, a.ID, "nothing here", "Subject: Straße éé\n")
	u3 := deliverText(t, s, a.ID, "", "") // no text at all: stored empty, not NULL
	mb, err := s.Mailbox(ctx, a.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	body, hdrs, all := store.TextBody, store.TextHeaders, store.TextAll
	cases := []struct {
		q    store.TextQuery
		want string
	}{
		{store.TextQuery{Field: body, Needle: "eting"}, fmt.Sprint(u1)},
		{store.TextQuery{Field: body, Needle: "münchen"}, fmt.Sprint(u1)},
		{store.TextQuery{Field: body, Needle: "x-tag"}, ""},
		{store.TextQuery{Field: hdrs, Needle: "X-TAG: BLUE"}, fmt.Sprint(u1)}, // trigrams
		{store.TextQuery{Field: hdrs, Header: "x-tag", Needle: "BLUE"}, fmt.Sprint(u1)},
		{store.TextQuery{Field: hdrs, Header: "x-tag", Needle: "x-tag"}, ""},
		{store.TextQuery{Field: hdrs, Needle: "STRASSE"}, ""}, // folding is per character, not full case mapping
		{store.TextQuery{Field: hdrs, Needle: "STRAßE"}, fmt.Sprint(u2)},
		{store.TextQuery{Field: hdrs, Header: "subject", Needle: "ÉÉ"}, fmt.Sprint(u2)}, // 4 bytes, 2 characters: no trigram
		{store.TextQuery{Field: all, Needle: "here"}, fmt.Sprint(u2)},
		{store.TextQuery{Field: all, Needle: "plans"}, fmt.Sprint(u1)},
		{store.TextQuery{Field: all, Needle: ""}, fmt.Sprint(u1, u2, u3)},
		{store.TextQuery{Field: body, Needle: "zzzz"}, ""},                // no indexed word has it
		{store.TextQuery{Field: body, Needle: "in mü"}, fmt.Sprint(u1)},   // non-ASCII: whole scan
		{store.TextQuery{Field: body, Needle: "ON IN M"}, fmt.Sprint(u1)}, // runs cut inside words
		{store.TextQuery{Field: all, Needle: "here, or not"}, ""},
		{store.TextQuery{Field: hdrs, Header: "x-tag", Needle: ""}, fmt.Sprint(u1)},        // the field's name narrows
		{store.TextQuery{Field: hdrs, Header: "x-nothing", Needle: ""}, ""},                // no message has the field
		{store.TextQuery{Field: body, Needle: "at noon in"}, fmt.Sprint(u1)},               // every run narrows
		{store.TextQuery{Field: body, Needle: "noon in nowhere"}, ""},                      // a run no word has
		{store.TextQuery{Field: hdrs, Header: "subject", Needle: "plans"}, fmt.Sprint(u1)}, // name and value
	}
	// The same answers before the indexer has come by (the text is read
	// from the bodies) and after.
	// Both ways of narrowing (a few candidates looked up one by one, many
	// checked along the mailbox), and bodies whose index is partial.
	defer func(n int) { maxSeekCandidates = n }(maxSeekCandidates)
	for _, when := range []string{"words waiting", "read from the bodies", "indexed", "indexed, scanned", "partial"} {
		switch when {
		case "words waiting":
			s.idx.mu.Lock()
			waiting := len(s.idx.waiting)
			s.idx.mu.Unlock()
			if waiting != 3 {
				t.Fatalf("%d bodies' words waiting, want 3", waiting)
			}
		case "read from the bodies":
			// As after a restart: the words waiting in memory are gone.
			s.idx.mu.Lock()
			s.idx.pending, s.idx.waiting, s.idx.pendingBytes = nil, nil, 0
			s.idx.mu.Unlock()
		case "indexed":
			if n, err := s.Reindex(ctx, 0); err != nil || n != 3 {
				t.Fatalf("Reindex: %d, %v", n, err)
			}
		case "indexed, scanned":
			maxSeekCandidates = 0
		case "partial":
			if err := s.write(ctx, func(ctx context.Context, tx *wtx, _ *effects) error {
				_, err := tx.ExecContext(ctx, `UPDATE blobs SET text_state = 1 WHERE id IN (SELECT blob_id FROM messages WHERE uid = ?)`, u1)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range cases {
			uids, err := s.SearchText(ctx, mb.ID, c.q)
			if err != nil {
				t.Fatalf("%s %+v: %v", when, c.q, err)
			}
			if got := strings.Trim(fmt.Sprint(uids), "[]"); got != c.want {
				t.Errorf("%s %+v: got %v, want %s", when, c.q, got, c.want)
			}
		}
	}
	for _, q := range []store.TextQuery{{Needle: strings.Repeat("x", maxNeedleLen+1)}, {Field: hdrs, Header: strings.Repeat("x", maxNeedleLen+1)}} {
		if _, err := s.SearchText(ctx, mb.ID, q); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("overlong query: %v", err)
		}
	}
	// The text goes with the blob.
	if _, _, err := s.Expunge(ctx, mb.ID, []uint32{u1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	var gone, kept int
	if err := s.FlushIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.text.rdb.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM text_index WHERE text_index MATCH 'meeting'),
		(SELECT COUNT(*) FROM text_index WHERE text_index MATCH 'nothing')`).Scan(&gone, &kept); err != nil || gone != 0 || kept != 1 {
		t.Fatalf("text_index after the expunge: %d rows of the expunged body, %d of the kept (%v)", gone, kept, err)
	}
}

// TestPurgedBeforeIndexed: a body expunged and purged while its words
// still wait for the indexer leaves nothing in text.db.
func TestPurgedBeforeIndexed(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if _, err := s.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "u@example.org", store.Credentials{})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := s.Mailbox(ctx, a.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	gone := deliverText(t, s, a.ID, "ephemeral words", "Subject: soon gone\n")
	deliverText(t, s, a.ID, "lasting words", "Subject: kept\n")
	if _, _, err := s.Expunge(ctx, mb.ID, []uint32{gone}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.FlushIndex(ctx); err != nil {
		t.Fatal(err)
	}
	var stale, kept int
	if err := s.text.rdb.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM text_index WHERE text_index MATCH 'ephemeral'),
		(SELECT COUNT(*) FROM text_index WHERE text_index MATCH 'lasting')`).Scan(&stale, &kept); err != nil || stale != 0 || kept != 1 {
		t.Fatalf("text_index: %d rows of the purged body, %d of the kept (%v)", stale, kept, err)
	}
}

// BenchmarkSearchText scans 10,000 messages of about 4 KiB of text for a
// word in 1% of them, as IMAP SEARCH BODY does, and their headers.
func BenchmarkSearchText(b *testing.B) {
	s, acct := benchSetup(b)
	ctx := context.Background()
	const n = 10000
	work := make(chan int, n)
	for i := range n {
		work <- i
	}
	close(work)
	done := make(chan struct{})
	for range 32 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range work {
				text := benchText
				if i%100 == 0 {
					text += " needleword"
				}
				deliverText(b, s, acct, text, "Subject: benchmark\nFrom: a@example.org\n")
			}
		}()
	}
	for range 32 {
		<-done
	}
	mb, err := s.Mailbox(ctx, acct, "INBOX")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		q    store.TextQuery
		hits int
	}{
		{"body", store.TextQuery{Field: store.TextBody, Needle: "NeedleWord"}, n / 100},
		{"body-midword", store.TextQuery{Field: store.TextBody, Needle: "eedlewor"}, n / 100},
		{"headers", store.TextQuery{Field: store.TextHeaders, Needle: "subject: bench"}, n},
		{"headers-none", store.TextQuery{Field: store.TextHeaders, Needle: "x-nothing"}, 0},
		{"header-named", store.TextQuery{Field: store.TextHeaders, Header: "subject", Needle: "bench"}, n},
		{"header-absent", store.TextQuery{Field: store.TextHeaders, Header: "x-nothing"}, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				uids, err := s.SearchText(ctx, mb.ID, c.q)
				if err != nil || len(uids) != c.hits {
					b.Fatalf("%d hits, %v", len(uids), err)
				}
			}
		})
	}
}
