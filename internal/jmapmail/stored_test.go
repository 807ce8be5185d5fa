package jmapmail

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"postern/internal/store"
)

func TestStoredEmail(t *testing.T) {
	e := newEnv(t, Options{})
	raw := `From: Ann <Ann@Example.NET>
Subject: related
Content-Type: multipart/related; boundary="r"

--r
Content-Type: multipart/alternative; boundary="a"

--a
Content-Type: text/plain

plain
--a
Content-Type: text/html; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

<p>caf=E9 <img src=3D"cid:pic@x"></p>
--a--
--r
Content-Type: image/png
Content-ID: <pic@x>
Content-Transfer-Encoding: base64

aGVsbG8=
--r--
`
	m := e.deliverRaw("INBOX", raw, time.Now())
	se, err := OpenEmail(e.ctx, e.st, e.acct.ID, emailID(m.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer se.Close()
	if se.From() != "ann@example.net" {
		t.Errorf("From %q", se.From())
	}
	html := se.HTMLBody()
	if len(html) != 1 || html[0].Type != "text/html" || html[0].PartID != "1.2" {
		t.Fatalf("htmlBody %+v", html)
	}
	text, cut, err := se.Text(html[0], 1<<20)
	if err != nil || cut || text != "<p>café <img src=\"cid:pic@x\"></p>" {
		t.Errorf("Text = %q, %v, %v", text, cut, err)
	}
	if text, cut, _ := se.Text(html[0], 4); text != "<p>c" || !cut {
		t.Errorf("cut Text = %q, %v", text, cut)
	}
	pic, ok := se.PartByCID("pic@x")
	if !ok || pic.Type != "image/png" || pic.CID != "pic@x" {
		t.Fatalf("PartByCID = %+v, %v", pic, ok)
	}
	rd, err := se.Open(pic)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(rd); string(b) != "hello" {
		t.Errorf("image part %q", b)
	}
	if _, ok := se.PartByCID("other@x"); ok {
		t.Error("unknown cid found")
	}
	if _, _, err := se.Text(pic, 10); err == nil {
		t.Error("Text of an image")
	}
	rd, _ = se.Raw()
	if b, _ := io.ReadAll(rd); string(b) != strings.ReplaceAll(raw, "\n", "\r\n") {
		t.Errorf("raw %q", b)
	}
	// Another account's message, or none, is not found.
	bob, _ := e.st.Account(e.ctx, "bob@example.org")
	for _, c := range []struct {
		acct int64
		id   string
	}{{bob.ID, emailID(m.ID)}, {e.acct.ID, "e999"}, {e.acct.ID, "x1"}, {e.acct.ID, "e01"}} {
		if _, err := OpenEmail(e.ctx, e.st, c.acct, c.id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("OpenEmail(%d, %s): %v", c.acct, c.id, err)
		}
	}
}
