// Package storetest is the conformance suite of the store contract: every
// backend of store.Store runs Run in its own tests and must pass it whole.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"postern/internal/store"
)

// IndexFlusher is implemented by backends that index text after the
// delivery's commit; answers must be the same before and after.
type IndexFlusher interface {
	FlushIndex(ctx context.Context) error
}

// Purger is implemented by backends that collect unreferenced bodies later
// than the change that dropped their last reference; the suite calls it
// before checking that a body is gone.
type Purger interface {
	Purge(ctx context.Context) (int, error)
}

// Run runs the whole suite; open must return a new, empty store, closed by
// the caller's t.Cleanup or by the suite (Close twice must be harmless).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"Domains", testDomains},
		{"Accounts", testAccounts},
		{"Aliases", testAliases},
		{"DeleteDomainCascades", testDeleteDomainCascades},
		{"DeliverSharesBlob", testDeliverSharesBlob},
		{"DeliverPerTargetErrors", testDeliverPerTargetErrors},
		{"QuotaFallback", testQuotaFallback},
		{"DeliverWithQueue", testDeliverWithQueue},
		{"DeliverExtraBodies", testDeliverExtraBodies},
		{"DeliverMissingMailbox", testDeliverMissingMailbox},
		{"LargeBody", testLargeBody},
		{"MultiAppend", testMultiAppend},
		{"Queue", testQueue},
		{"QueueIDsNotReused", testQueueIDsNotReused},
		{"DKIMKeys", testDKIMKeys},
		{"AppPasswords", testAppPasswords},
		{"AccessTokens", testAccessTokens},
		{"Admins", testAdmins},
		{"SieveScripts", testSieveScripts},
		{"Vacation", testVacation},
		{"SieveTracking", testSieveTracking},
		{"Identities", testIdentities},
		{"EmailSubmissions", testEmailSubmissions},
		{"MoveKeepsID", testMoveKeepsID},
		{"Threads", testThreads},
		{"Metadata", testMetadata},
		{"URLAuthKeys", testURLAuthKeys},
		{"MessagesByDate", testMessagesByDate},
		{"MessageEnvelopes", testMessageEnvelopes},
		{"AccountChanges", testAccountChanges},
		{"Quota", testQuota},
		{"UIDsModSeqExpunge", testUIDsModSeqExpunge},
		{"UIDValidityUnique", testUIDValidityUnique},
		{"Flags", testFlags},
		{"UnchangedSince", testUnchangedSince},
		{"CopyMove", testCopyMove},
		{"Mailboxes", testMailboxes},
		{"MailboxIDsNotReused", testMailboxIDsNotReused},
		{"RenameTree", testRenameTree},
		{"RenameInbox", testRenameInbox},
		{"Append", testAppend},
		{"MailboxStatus", testMailboxStatus},
		{"Search", testSearch},
		{"References", testReferences},
		{"Changes", testChanges},
		{"ConcurrentDeliveries", testConcurrentDeliveries},
		{"Closed", testClosed},
		{"Uploads", testUploads},
		{"WebmailPrefs", testWebmailPrefs},
		{"DeliveryLog", testDeliveryLog},
		{"TransportSecurity", testTransportSecurity},
		{"AddAccounts", testAddAccounts},
		{"LastLogins", testLastLogins},
		{"ACLRightsAndSharing", testACLRightsAndSharing},
		{"ACLGoesWithMailboxAndGrantee", testACLGoesWithMailboxAndGrantee},
		{"CopyIntoSharedMailbox", testCopyIntoSharedMailboxCountsForOwner},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each test has its own store
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, &env{t: t, s: s, ctx: context.Background()})
		})
	}
}

// env is one test's store with helpers that fail the test on error.
type env struct {
	t   *testing.T
	s   store.Store
	ctx context.Context
	n   int
}

// purge lets a backend that collects bodies later do so now.
func (e *env) purge() {
	e.t.Helper()
	if p, ok := e.s.(Purger); ok {
		if _, err := p.Purge(e.ctx); err != nil {
			e.t.Fatalf("Purge: %v", err)
		}
	}
}

func (e *env) domain(name string) store.Domain {
	e.t.Helper()
	d, err := e.s.AddDomain(e.ctx, name)
	if err != nil {
		e.t.Fatalf("AddDomain(%q): %v", name, err)
	}
	return d
}

func (e *env) account(addr string) store.Account {
	e.t.Helper()
	a, err := e.s.AddAccount(e.ctx, addr, store.Credentials{PasswordHash: "$argon2id$x", SCRAMSHA256: "scram"})
	if err != nil {
		e.t.Fatalf("AddAccount(%q): %v", addr, err)
	}
	return a
}

func (e *env) reload(a store.Account) store.Account {
	e.t.Helper()
	a, err := e.s.AccountByID(e.ctx, a.ID)
	if err != nil {
		e.t.Fatalf("AccountByID: %v", err)
	}
	return a
}

func (e *env) mailbox(accountID int64, name string) store.Mailbox {
	e.t.Helper()
	m, err := e.s.Mailbox(e.ctx, accountID, name)
	if err != nil {
		e.t.Fatalf("Mailbox(%q): %v", name, err)
	}
	return m
}

// body makes a body with this content and index text, written through the
// store's own BodyWriter.
func (e *env) body(content, text, headers string) store.NewBlob {
	e.t.Helper()
	w, err := e.s.NewBody()
	if err != nil {
		e.t.Fatal(err)
	}
	defer w.Abort()
	if _, err := io.WriteString(w, content); err != nil {
		e.t.Fatal(err)
	}
	b, err := w.Finish()
	if err != nil {
		e.t.Fatal(err)
	}
	return store.NewBlob{Body: b, Meta: store.MessageMeta{
		Envelope: []byte("env:" + content[:min(len(content), 8)]), BodyStructure: []byte("bs"),
		Preview: "preview", SearchText: text, Headers: headers,
	}}
}

// sized returns a body of exactly size bytes.
func (e *env) sized(size int) store.NewBlob {
	e.t.Helper()
	e.n++
	// The text is in the body too: a store may read it from there.
	c := fmt.Sprintf("Subject: %d\r\n\r\nmessage%d ", e.n, e.n)
	for len(c) < size {
		c += "x"
	}
	return e.body(c[:size], fmt.Sprintf("message%d", e.n), fmt.Sprintf("Subject: %d", e.n))
}

func (e *env) deliver(nb store.NewBlob, targets ...store.DeliveryTarget) []store.DeliveryResult {
	e.t.Helper()
	out, err := e.s.Deliver(e.ctx, store.Delivery{Blob: nb, InternalDate: time.Unix(1700000000, 0), Targets: targets})
	if err != nil {
		e.t.Fatalf("Deliver: %v", err)
	}
	if len(out.Targets) != len(targets) {
		e.t.Fatalf("Deliver: %d results for %d targets", len(out.Targets), len(targets))
	}
	return out.Targets
}

// readBlob returns the body of a blob.
func (e *env) readBlob(id int64) string {
	e.t.Helper()
	rc, err := e.s.OpenBlob(e.ctx, id)
	if err != nil {
		e.t.Fatalf("OpenBlob(%d): %v", id, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		e.t.Fatalf("reading blob %d: %v", id, err)
	}
	return string(b)
}

// deliverOK delivers a small message to the mailbox and returns its UID.
func (e *env) deliverOK(accountID int64, mailbox string) uint32 {
	e.t.Helper()
	r := e.deliver(e.sized(100), store.DeliveryTarget{AccountID: accountID, Mailbox: mailbox})[0]
	if r.Err != nil {
		e.t.Fatalf("delivery to %q: %v", mailbox, r.Err)
	}
	return r.UID
}

func (e *env) messages(mailboxID int64) []store.Message {
	e.t.Helper()
	m, err := e.s.Messages(e.ctx, mailboxID, 1, 0)
	if err != nil {
		e.t.Fatalf("Messages: %v", err)
	}
	return m
}

func uidsOf(msgs []store.Message) []uint32 {
	var out []uint32
	for _, m := range msgs {
		out = append(out, m.UID)
	}
	return out
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

func wantUIDs(t *testing.T, what string, got, want []uint32) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: got UIDs %v, want %v", what, got, want)
	}
}

// setup makes a domain example.org with an account alice@example.org.
func (e *env) setup() store.Account {
	e.t.Helper()
	e.domain("example.org")
	return e.account("alice@example.org")
}
