package imapd

import (
	"context"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

func TestQuotaClient(t *testing.T) {
	env := newTestEnv(t, nil)
	ctx := context.Background()
	c := env.client(nil)
	if !c.Caps().Has("QUOTA") || !c.Caps().Has("QUOTA=RES-STORAGE") || !c.Caps().Has("QUOTA=RES-MESSAGE") {
		t.Fatalf("caps %v", c.Caps())
	}
	// No limits: no quota root (RFC 9208 §4.3).
	roots, err := c.GetQuotaRoot("INBOX").Wait()
	if err != nil || len(roots) != 0 {
		t.Fatalf("unlimited GETQUOTAROOT = %+v, %v", roots, err)
	}
	env.deliver("INBOX", simpleMsg)
	if err := env.st.SetQuota(ctx, testUser, 10*1024, 5); err != nil {
		t.Fatal(err)
	}
	roots, err = c.GetQuotaRoot("INBOX").Wait()
	if err != nil || len(roots) != 1 || roots[0].Root != "" {
		t.Fatalf("GETQUOTAROOT = %+v, %v", roots, err)
	}
	st, msg := roots[0].Resources[imap.QuotaResourceStorage], roots[0].Resources[imap.QuotaResourceMessage]
	if st.Usage != 1 || st.Limit != 10 || msg.Usage != 1 || msg.Limit != 5 {
		t.Fatalf("resources %+v", roots[0].Resources)
	}
	q, err := c.GetQuota("").Wait()
	if err != nil || q.Resources[imap.QuotaResourceMessage].Limit != 5 {
		t.Fatalf("GETQUOTA = %+v, %v", q, err)
	}
	if _, err := c.GetQuota("other").Wait(); err == nil {
		t.Fatal("GETQUOTA of an unknown root succeeded")
	}
	if err := c.SetQuota("", map[imap.QuotaResourceType]int64{imap.QuotaResourceStorage: 1}).Wait(); err == nil {
		t.Fatal("SETQUOTA succeeded")
	}
}

// TestQuotaOverquota: APPEND and COPY past the quota get NO [OVERQUOTA]
// (RFC 9208 §7.1), and nothing is stored.
func TestQuotaOverquota(t *testing.T) {
	env := newTestEnv(t, nil)
	env.deliver("INBOX", simpleMsg)
	if err := env.st.SetQuota(context.Background(), testUser, 0, 1); err != nil {
		t.Fatal(err)
	}
	rc := env.login()
	rc.send("a APPEND INBOX {5+}\r\nhello")
	got := rc.expectTagged("a", "NO")
	if !strings.Contains(got[len(got)-1], "[OVERQUOTA]") {
		t.Fatalf("APPEND over quota: %q", got)
	}
	rc.send("b SELECT INBOX")
	rc.expectTagged("b", "OK")
	rc.send("c COPY 1 Archive")
	got = rc.expectTagged("c", "NO")
	if !strings.Contains(got[len(got)-1], "[OVERQUOTA]") {
		t.Fatalf("COPY over quota: %q", got)
	}
	rc.send(`d GETQUOTAROOT "Archive"`)
	got = rc.expectTagged("d", "OK")
	if !contains(got, `* QUOTAROOT Archive ""`) || !contains(got, `* QUOTA "" (MESSAGE 1 1)`) {
		t.Fatalf("GETQUOTAROOT: %q", got)
	}
	rc.send(`d2 STORE 1 +FLAGS.SILENT (\Deleted)`)
	rc.expectTagged("d2", "OK")
	rc.send("d3 STATUS INBOX (DELETED DELETED-STORAGE)")
	got = rc.expectTagged("d3", "OK")
	if !contains(got, "* STATUS INBOX (DELETED 1 DELETED-STORAGE 1)") { // 190 bytes: 1 KiB
		t.Fatalf("DELETED-STORAGE: %q", got)
	}
	rc.send("e GETQUOTAROOT Nope")
	rc.expectTagged("e", "NO")
	rc.send("f SETQUOTA \"\" (STORAGE 100 MESSAGE 2)")
	rc.expectTagged("f", "NO")
	rc.send("g SETQUOTA \"\" (STORAGE)")
	rc.expectTagged("g", "BAD")
}
