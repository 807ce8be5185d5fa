package e2e

import (
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// TestIMAPSeesDelivery: a message delivered over SMTP is visible over IMAP
// with the same bytes POP3 returns, and an IMAP expunge is visible to POP3:
// both read one store.
func TestIMAPSeesDelivery(t *testing.T) {
	t.Parallel()
	s := mailServer(t, nil)
	id := uniq()
	mustSend(t, s.Addr["smtp"], "x@remote.test", []string{alice}, testMessage("x@remote.test", alice, id, "seen by IMAP"))
	pop := findByID(fetchAll(t, s, alice, pass), id)
	if len(pop) != 1 {
		t.Fatalf("POP3 sees %d copies", len(pop))
	}

	c, err := imapclient.DialInsecure(s.Addr["imap"], nil)
	if err != nil {
		t.Fatalf("IMAP dial: %v", err)
	}
	defer c.Close()
	if err := c.Login(alice, pass).Wait(); err != nil {
		t.Fatalf("IMAP LOGIN: %v", err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatalf("IMAP SELECT: %v", err)
	}
	if sel.NumMessages != 1 {
		t.Errorf("SELECT INBOX: %d messages, want 1", sel.NumMessages)
	}
	found, err := c.Search(&imap.SearchCriteria{
		Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: id}},
	}, nil).Wait()
	if err != nil {
		t.Fatalf("IMAP SEARCH: %v", err)
	}
	if nums := found.AllSeqNums(); len(nums) != 1 || nums[0] != 1 {
		t.Errorf("SEARCH HEADER Message-ID: %v, want [1]", nums)
	}
	section := &imap.FetchItemBodySection{}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{
		BodySection: []*imap.FetchItemBodySection{section}, RFC822Size: true,
	}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("IMAP FETCH: %v (%d messages)", err, len(msgs))
	}
	if body := string(msgs[0].FindBodySection(section)); body != pop[0].Text {
		t.Errorf("IMAP BODY[] differs from POP3 RETR:\nIMAP %q\nPOP3 %q", short(body), short(pop[0].Text))
	}
	if msgs[0].RFC822Size != int64(len(pop[0].Text)) {
		t.Errorf("RFC822.SIZE %d, POP3 size %d", msgs[0].RFC822Size, len(pop[0].Text))
	}
	store := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}
	if err := c.Store(imap.SeqSetNum(1), store, nil).Close(); err != nil {
		t.Fatalf("IMAP STORE: %v", err)
	}
	if err := c.Expunge().Close(); err != nil {
		t.Fatalf("IMAP EXPUNGE: %v", err)
	}
	c.Logout().Wait()
	if n := len(fetchAll(t, s, alice, pass)); n != 0 {
		t.Errorf("POP3 sees %d messages after IMAP EXPUNGE, want 0", n)
	}
}
