package imapd

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

func (e *testEnv) client(opts *imapclient.Options) *imapclient.Client {
	e.t.Helper()
	c, err := imapclient.DialInsecure(e.addr, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func appendMsg(t *testing.T, c *imapclient.Client, mailbox, raw string, flags ...imap.Flag) *imap.AppendData {
	t.Helper()
	cmd := c.Append(mailbox, int64(len(raw)), &imap.AppendOptions{Flags: flags, Time: time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)})
	if _, err := cmd.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestClientMailboxes(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client(nil)
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string][]imap.MailboxAttr{}
	for _, l := range list {
		attrs[l.Mailbox] = l.Attrs
	}
	if len(list) != 6 || list[0].Mailbox != "INBOX" || !hasAttr(attrs["Sent"], imap.MailboxAttrSent) ||
		!hasAttr(attrs["Trash"], imap.MailboxAttrTrash) {
		t.Fatalf("LIST: %+v", attrs)
	}
	if err := c.Create("Projects/2024", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename("Projects/2024", "Projects/Old", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	list, err = c.List("", "Projects/%", nil).Collect()
	if err != nil || len(list) != 1 || list[0].Mailbox != "Projects/Old" {
		t.Fatalf("LIST after rename: %+v %v", list, err)
	}
	list, err = c.List("", "%", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range list {
		if l.Mailbox == "Projects" && !hasAttr(l.Attrs, imap.MailboxAttrHasChildren) {
			t.Fatalf("Projects lacks \\HasChildren: %v", l.Attrs)
		}
	}
	if err := c.Delete("Projects/Old").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("Nope").Wait(); err == nil {
		t.Fatal("DELETE of a missing mailbox succeeded")
	}
	if err := c.Subscribe("Sent").Wait(); err != nil {
		t.Fatal(err)
	}
	ns, err := c.Namespace().Wait()
	if err != nil || len(ns.Personal) != 1 || ns.Personal[0].Delim != '/' ||
		len(ns.Other) != 1 || ns.Other[0].Prefix != "Other Users/" || ns.Other[0].Delim != '/' {
		t.Fatalf("NAMESPACE: %+v %v", ns, err)
	}
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true, NumUnseen: true}).Wait()
	if err != nil || *st.NumMessages != 0 || st.UIDNext != 1 || st.UIDValidity == 0 {
		t.Fatalf("STATUS: %+v %v", st, err)
	}
}

func hasAttr(attrs []imap.MailboxAttr, a imap.MailboxAttr) bool {
	for _, x := range attrs {
		if strings.EqualFold(string(x), string(a)) {
			return true
		}
	}
	return false
}

func TestClientMessages(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client(nil)
	a1 := appendMsg(t, c, "INBOX", simpleMsg)
	a2 := appendMsg(t, c, "INBOX", multipartMsg, imap.FlagSeen, "$Important")
	if a1.UID != 1 || a2.UID != 2 || a1.UIDValidity == 0 {
		t.Fatalf("APPENDUID: %+v %+v", a1, a2)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil || sel.NumMessages != 2 {
		t.Fatalf("SELECT: %+v %v", sel, err)
	}
	hdr := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
	part1 := &imap.FetchItemBodySection{Part: []int{1}, Peek: true}
	msgs, err := c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{
		UID: true, Flags: true, Envelope: true, BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		RFC822Size: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{hdr, part1},
	}).Collect()
	if err != nil || len(msgs) != 2 {
		t.Fatalf("FETCH: %v %v", msgs, err)
	}
	m1, m2 := msgs[0], msgs[1]
	if m1.Envelope.Subject != "Hello there" || m1.Envelope.From[0].Addr() != "bob@example.net" || m1.RFC822Size != int64(len(simpleMsg)) {
		t.Fatalf("message 1: %+v", m1.Envelope)
	}
	if !strings.HasPrefix(string(m1.FindBodySection(hdr)), "From: Bob") || string(m1.FindBodySection(part1)) != "Hi Alice, meeting at noon.\r\n" {
		t.Fatalf("sections: %q / %q", m1.FindBodySection(hdr), m1.FindBodySection(part1))
	}
	mp, ok := m2.BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok || mp.Subtype != "mixed" || len(mp.Children) != 2 || len(m2.Flags) != 3 {
		t.Fatalf("message 2: %#v flags %v", m2.BodyStructure, m2.Flags)
	}
	if string(m2.FindBodySection(part1)) != "See attached." {
		t.Fatalf("part 1: %q", m2.FindBodySection(part1))
	}

	// SEARCH: header keys from the envelope, text from the index.
	search := func(cr *imap.SearchCriteria) []imap.UID {
		t.Helper()
		d, err := c.UIDSearch(cr, nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		return d.AllUIDs()
	}
	if got := search(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "hello"}}}); len(got) != 1 || got[0] != 1 {
		t.Fatalf("SUBJECT: %v", got)
	}
	if got := search(&imap.SearchCriteria{Body: []string{"attached"}}); len(got) != 1 || got[0] != 2 {
		t.Fatalf("BODY: %v", got)
	}
	if got := search(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}); len(got) != 1 || got[0] != 1 {
		t.Fatalf("UNSEEN: %v", got)
	}
	if got := search(&imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{{Flag: []imap.Flag{"$Important"}}, {Larger: 100000}}}}); len(got) != 1 || got[0] != 2 {
		t.Fatalf("OR KEYWORD: %v", got)
	}
	if got := search(&imap.SearchCriteria{Since: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), Before: time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC)}); len(got) != 2 {
		t.Fatalf("SINCE/BEFORE: %v", got)
	}

	// STORE, COPY, MOVE, EXPUNGE.
	fl, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Collect()
	if err != nil || len(fl) != 1 || len(fl[0].Flags) != 2 || fl[0].Flags[0] != imap.FlagFlagged { // and \Recent
		t.Fatalf("STORE: %+v %v", fl, err)
	}
	cp, err := c.Copy(imap.SeqSetNum(1, 2), "Archive").Wait()
	if err != nil || len(cp.DestUIDs) != 1 || cp.DestUIDs[0].Start != 1 {
		t.Fatalf("COPY: %+v %v", cp, err)
	}
	mv, err := c.Move(imap.UIDSetNum(2), "Trash").Wait()
	if err != nil || mv == nil || mv.UIDValidity == 0 {
		t.Fatalf("MOVE: %+v %v", mv, err)
	}
	if _, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	exp, err := c.Expunge().Collect()
	if err != nil || len(exp) != 1 || exp[0] != 1 {
		t.Fatalf("EXPUNGE: %v %v", exp, err)
	}
	st, err := c.Status("Archive", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || *st.NumMessages != 2 {
		t.Fatalf("Archive: %+v %v", st, err)
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestClientIdleAndFlagsFromOtherSession(t *testing.T) {
	env := newTestEnv(t, nil)
	env.deliver("INBOX", simpleMsg)
	exists := make(chan uint32, 10)
	flags := make(chan []imap.Flag, 10)
	c := env.client(&imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				exists <- *d.NumMessages
			}
		},
		Fetch: func(m *imapclient.FetchMessageData) {
			for it := m.Next(); it != nil; it = m.Next() {
				if f, ok := it.(imapclient.FetchItemDataFlags); ok {
					flags <- f.Flags
				}
			}
		},
	}})
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	other := env.client(nil)
	if _, err := other.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	env.deliver("INBOX", simpleMsg)
	select {
	case n := <-exists:
		if n != 2 {
			t.Fatalf("EXISTS %d", n)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no EXISTS during IDLE")
	}
	if err := other.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagAnswered}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case f := <-flags:
		// \Recent: this session selected the mailbox first.
		if len(f) != 2 || f[0] != imap.FlagAnswered || f[1] != `\Recent` {
			t.Fatalf("FLAGS %v", f)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no FETCH FLAGS during IDLE")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestClientInternationalMailbox(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client(nil)
	for _, name := range []string{"Entwürfe & Co", "日本語"} {
		if err := c.Create(name, nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := env.st.Mailbox(context.Background(), env.acct.ID, name); err != nil {
			t.Fatalf("stored name of %q: %v", name, err)
		}
		list, err := c.List("", name, nil).Collect()
		if err != nil || len(list) != 1 || list[0].Mailbox != name {
			t.Fatalf("LIST %q: %+v %v", name, list, err)
		}
	}
	// An IMAP4rev1 client speaks modified UTF-7 on the wire.
	rc := env.login()
	rc.send(`u1 LIST "" "Entw*"`)
	if lines := rc.expectTagged("u1", "OK"); !contains(lines, `"Entw&APw-rfe &- Co"`) {
		t.Fatalf("rev1 LIST: %q", lines)
	}
	rc.send(`u2 STATUS &ZeVnLIqe- (MESSAGES)`)
	if lines := rc.expectTagged("u2", "OK"); !contains(lines, `* STATUS &ZeVnLIqe- (MESSAGES 0)`) {
		t.Fatalf("rev1 STATUS: %q", lines)
	}
}
