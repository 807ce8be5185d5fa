package imapd

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"postern/internal/store"
)

// countEnvelopeReads counts the store's envelope listings, one per chunk
// of a streamed FETCH of envelopes.
type countEnvelopeReads struct {
	Store
	n atomic.Int32
}

func (c *countEnvelopeReads) MessageEnvelopes(ctx context.Context, mailboxID int64, from, to uint32) ([]store.Message, error) {
	c.n.Add(1)
	return c.Store.MessageEnvelopes(ctx, mailboxID, from, to)
}

// TestFetchStreamed: a FETCH read and answered five messages at a time
// says byte for byte what one read of all of them says, over a mailbox
// with expunged UIDs, flags, 8-bit names in literals and body sections.
func TestFetchStreamed(t *testing.T) {
	transcript := func(chunk int) ([]string, int32) {
		counter := &countEnvelopeReads{}
		env := newTestEnv(t, func(c *Config) {
			c.fetchChunk = chunk
			counter.Store = c.Store
			c.Store = counter
		})
		for i := range 14 {
			env.deliver("INBOX", variedMessage(i))
		}
		rc := env.login()
		rc.expectTaggedAfter("a SELECT INBOX", "a", "OK")
		rc.expectTaggedAfter(`b STORE 2,5 +FLAGS.SILENT (\Flagged)`, "b", "OK")
		rc.expectTaggedAfter(`c STORE 4,9 +FLAGS.SILENT (\Deleted)`, "c", "OK")
		rc.expectTaggedAfter("d EXPUNGE", "d", "OK")
		var lines []string
		counter.n.Store(0)
		lines = append(lines, rc.expectTaggedAfter("e FETCH 1:* (FLAGS UID ENVELOPE)", "e", "OK")...)
		envelopeReads := counter.n.Load()
		for i, cmd := range []string{
			"UID FETCH 1:* (FLAGS ENVELOPE)",
			"FETCH 2,4:11 (UID RFC822.SIZE BODYSTRUCTURE INTERNALDATE)",
			"FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT TO)])",
			"FETCH 1:* (MODSEQ FLAGS)",
			"UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1)",
			"FETCH 1:* (UID BODY[TEXT])",
			"FETCH 1:* (FLAGS)",
		} {
			tag := fmt.Sprintf("f%d", i)
			lines = append(lines, rc.expectTaggedAfter(tag+" "+cmd, tag, "OK")...)
		}
		return lines, envelopeReads
	}
	whole, wholeReads := transcript(0)
	streamed, streamedReads := transcript(5)
	if wholeReads != 1 || streamedReads != 3 {
		t.Errorf("envelope listings for 12 messages: %d whole, %d streamed (want 1 and 3)", wholeReads, streamedReads)
	}
	if !slices.Equal(whole, streamed) {
		for i := range min(len(whole), len(streamed)) {
			if whole[i] != streamed[i] {
				t.Fatalf("line %d differs:\nwhole    %q\nstreamed %q", i, whole[i], streamed[i])
			}
		}
		t.Fatalf("%d lines whole, %d streamed", len(whole), len(streamed))
	}
	if !contains(whole, `* 12 FETCH (FLAGS (\Recent) UID 14 ENVELOPE (`) || !contains(whole, `* 2 FETCH (FLAGS (\Flagged \Recent) UID 2 ENVELOPE (`) {
		t.Errorf("FETCH 1:* (FLAGS UID ENVELOPE): %q", whole[:3])
	}
}
