package admin

import "testing"

func TestShareMailbox(t *testing.T) {
	h := newHarness(t)
	h.mustDomain("example.org")
	h.mustDomain("example.net")
	for _, a := range []string{"alice@example.org", "bob@example.org", "eve@example.net"} {
		h.mustAccount(a)
	}
	if err := h.svc.ShareMailbox(h.ctx, "Alice@example.org", "inbox", "Bob@Example.org", "lrs"); err != nil {
		t.Fatal(err)
	}
	h.wantAudit("mailbox.share", "alice@example.org/INBOX", "identifier", "Bob@Example.org", "rights", "lrs")
	if err := h.svc.ShareMailbox(h.ctx, "alice@example.org", "INBOX", "-anyone", "w"); err != nil {
		t.Fatal(err)
	}
	h.audits()
	got, err := h.svc.MailboxShares(h.ctx, "alice@example.org", "INBOX")
	if err != nil || len(got) != 2 || got[0] != (ShareEntry{"-anyone", "w"}) || got[1] != (ShareEntry{"bob@example.org", "lrs"}) {
		t.Fatalf("shares = %+v, %v", got, err)
	}
	for _, tc := range []struct {
		owner, mailbox, id, rights string
		kind                       Kind
	}{
		{"alice@example.org", "INBOX", "bob@example.org", "lrz", KindInvalid},    // unknown right
		{"alice@example.org", "INBOX", "eve@example.net", "lr", KindInvalid},     // another domain
		{"alice@example.org", "INBOX", "alice@example.org", "lr", KindInvalid},   // the owner
		{"alice@example.org", "INBOX", "nobody@example.org", "lr", KindNotFound}, // no such account
		{"alice@example.org", "Nothing", "bob@example.org", "lr", KindNotFound},  // no such mailbox
		{"nobody@example.org", "INBOX", "bob@example.org", "lr", KindNotFound},   // no such owner
		{"alice@example.org", "INBOX", "not an address", "lr", KindInvalid},      // bad identifier
	} {
		err := h.svc.ShareMailbox(h.ctx, tc.owner, tc.mailbox, tc.id, tc.rights)
		if KindOf(err) != tc.kind {
			t.Errorf("ShareMailbox(%q, %q, %q, %q) = %v, want kind %v", tc.owner, tc.mailbox, tc.id, tc.rights, err, tc.kind)
		}
	}
	h.wantNoAudit("refused shares")
	if err := h.svc.ShareMailbox(h.ctx, "alice@example.org", "INBOX", "bob@example.org", ""); err != nil {
		t.Fatal(err)
	}
	if got, _ = h.svc.MailboxShares(h.ctx, "alice@example.org", "INBOX"); len(got) != 1 {
		t.Fatalf("after revoking bob: %+v", got)
	}
}
