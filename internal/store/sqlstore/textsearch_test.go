package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"postern/internal/store"
)

// deliverText delivers an inline body with the given search text and
// headers to the account's INBOX and returns the UID.
func deliverText(tb testing.TB, s *Store, acct int64, text, headers string) uint32 {
	tb.Helper()
	body := []byte("Subject: x\r\n\r\n" + text)
	res := deliverBytes(tb, s, body, store.MessageMeta{SearchText: text, Headers: headers}, store.DeliveryTarget{AccountID: acct})
	if res[0].Err != nil {
		tb.Fatalf("deliver: %v", res[0].Err)
	}
	return res[0].UID
}

func TestSearchSubstring(t *testing.T) {
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
	u2 := deliverText(t, s, a.ID, "nothing here", "Subject: Straße\n")
	u3 := deliverText(t, s, a.ID, "", "") // no text at all: stored empty, not NULL
	mb, err := s.Mailbox(ctx, a.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		field  store.TextField
		needle string
		want   string
	}{
		{store.TextBody, "eting", fmt.Sprint(u1)},
		{store.TextBody, "münchen", fmt.Sprint(u1)},
		{store.TextBody, "x-tag", ""},
		{store.TextHeaders, "X-TAG: BLUE", fmt.Sprint(u1)},
		{store.TextHeaders, "STRASSE", ""}, // folding is per character, not full case mapping
		{store.TextHeaders, "STRAßE", fmt.Sprint(u2)},
		{store.TextAll, "here", fmt.Sprint(u2)},
		{store.TextAll, "plans", fmt.Sprint(u1)},
		{store.TextAll, "", fmt.Sprint(u1, u2, u3)},
		{store.TextBody, "zzzz", ""},                // no indexed word has it
		{store.TextBody, "in mü", fmt.Sprint(u1)},   // non-ASCII: whole scan
		{store.TextBody, "ON IN M", fmt.Sprint(u1)}, // runs cut inside words
		{store.TextAll, "here, or not", ""},
	}
	for _, c := range cases {
		hits, missing, err := s.SearchSubstring(ctx, mb.ID, c.field, c.needle)
		if err != nil || len(missing) != 0 {
			t.Fatalf("%q: %v, missing %v", c.needle, err, missing)
		}
		var got []string
		for _, h := range hits {
			got = append(got, fmt.Sprint(h.UID))
			if c.field == store.TextHeaders && !strings.Contains(h.Headers, "subject:") {
				t.Errorf("%q: headers not returned: %q", c.needle, h.Headers)
			}
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%v %q: got %v, want %s", c.field, c.needle, got, c.want)
		}
	}
	if _, _, err := s.SearchSubstring(ctx, mb.ID, store.TextBody, strings.Repeat("x", maxNeedleLen+1)); err == nil {
		t.Error("overlong needle accepted")
	}
	// The text goes with the blob; a message without it is reported missing.
	if _, _, err := s.Expunge(ctx, mb.ID, []uint32{u1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := s.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM blob_text`).Scan(&rows); err != nil || rows != 2 {
		t.Fatalf("blob_text rows after expunge: %d %v", rows, err)
	}
	if err := s.write(ctx, func(ctx context.Context, tx *wtx, _ *effects) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM blob_text`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	hits, missing, err := s.SearchSubstring(ctx, mb.ID, store.TextBody, "zzz")
	if err != nil || len(hits) != 0 || fmt.Sprint(missing) != fmt.Sprint([]uint32{u2, u3}) {
		t.Fatalf("after expunge: %v %v %v", hits, missing, err)
	}
}

// BenchmarkSearchSubstring scans 10,000 messages of about 4 KiB of text
// for a word in 1% of them, as IMAP SEARCH BODY does.
func BenchmarkSearchSubstring(b *testing.B) {
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
		name   string
		field  store.TextField
		needle string
		hits   int
	}{
		{"body", store.TextBody, "NeedleWord", n / 100},
		{"body-midword", store.TextBody, "eedlewor", n / 100},
		{"headers", store.TextHeaders, "subject: bench", n},
		{"headers-none", store.TextHeaders, "x-nothing", 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				hits, _, err := s.SearchSubstring(ctx, mb.ID, c.field, c.needle)
				if err != nil || len(hits) != c.hits {
					b.Fatalf("%d hits, %v", len(hits), err)
				}
			}
		})
	}
}
