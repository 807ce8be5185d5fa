package imapd

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
)

// expungeOnOpen is the store with another session's expunge, and the
// maintenance loop's purge of the body, landing between FETCH's metadata
// read and its body read: the first time the body of blob is opened, its
// message is expunged and purged first.
type expungeOnOpen struct {
	Store
	purge     func(context.Context) (int, error)
	once      sync.Once
	blob      int64
	mailboxID int64
	uid       uint32
}

func (e *expungeOnOpen) OpenBlob(ctx context.Context, blobID int64) (io.ReadCloser, error) {
	if blobID == e.blob {
		e.once.Do(func() {
			_, _, _ = e.Store.Expunge(ctx, e.mailboxID, []uint32{e.uid})
			_, _ = e.purge(ctx)
		})
	}
	return e.Store.OpenBlob(ctx, blobID)
}

// TestFetchBodyExpungedMeanwhile: a message expunged by another session
// while FETCH reads it gets no (half) response; the others are answered
// and the tagged reply is NO [EXPUNGEISSUED] (RFC 2180 §4.1.3, RFC 5530),
// not [SERVERBUG] (imaptest stress "FETCH failed").
func TestFetchBodyExpungedMeanwhile(t *testing.T) {
	hook := &expungeOnOpen{}
	env := newTestEnv(t, func(c *Config) {
		hook.Store = c.Store
		c.Store = hook
	})
	env.deliver("INBOX", simpleMsg)
	second := strings.Replace(simpleMsg, "Hello there", "Second one", 1)
	hook.uid = env.deliver("INBOX", second)
	ctx := context.Background()
	mb, err := env.st.Mailbox(ctx, env.acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := env.st.Messages(ctx, mb.ID, hook.uid, hook.uid)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("messages: %v %v", msgs, err)
	}
	hook.mailboxID, hook.blob, hook.purge = mb.ID, msgs[0].BlobID, env.st.Purge

	rc := env.login()
	rc.expectTaggedAfter("a SELECT INBOX", "a", "OK")
	got := rc.expectTaggedAfter("b FETCH 1:2 (UID BODY.PEEK[])", "b", "NO")
	if !strings.HasPrefix(got[0], "* 1 FETCH (UID 1 BODY[] {") || !contains(got, "Subject: Hello there") ||
		contains(got, "* 2 FETCH") || contains(got, "Second one") ||
		!strings.HasPrefix(got[len(got)-1], "b NO [EXPUNGEISSUED] ") {
		t.Errorf("FETCH across a concurrent expunge: %q", got)
	}
	// The client is told of the expunge once it may be, and then the
	// message is gone from its view.
	got = rc.expectTaggedAfter("c NOOP", "c", "OK")
	if !contains(got, "* 2 EXPUNGE") {
		t.Errorf("NOOP after the expunge: %q", got)
	}
	if got := rc.expectTaggedAfter("d FETCH 1:* (UID)", "d", "OK"); len(got) != 2 || got[0] != "* 1 FETCH (UID 1)" {
		t.Errorf("FETCH after the EXPUNGE: %q", got)
	}
}
