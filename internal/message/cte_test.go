package message

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime/quotedprintable"
	"strings"
	"testing"
)

func TestBase64BinaryParts(t *testing.T) {
	bin := "\x00-\xe4\n\r\n\n"
	single := "From: user@domain.org\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n" + bin
	multi := "From: a@b.test\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nplain text\r\n" +
		"--XX\r\nContent-Type: image/png\r\nContent-Transfer-Encoding:\r\n binary\r\n\r\n" + bin + strings.Repeat("\x00", 100) + "\r\n--XX--\r\n"
	plain := "From: a@b.test\r\nSubject: s\r\n\r\nnothing binary here\r\n"
	for name, c := range map[string]struct {
		raw  string
		want []string // decoded leaf bodies that were rewritten
	}{
		"single":  {single, []string{bin}},
		"multi":   {multi, []string{bin + strings.Repeat("\x00", 100)}},
		"nothing": {plain, nil},
	} {
		p, err := Parse(strings.NewReader(c.raw), DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		out, changed := Base64BinaryParts([]byte(c.raw), p.Body)
		if changed != (c.want != nil) {
			t.Fatalf("%s: changed %v", name, changed)
		}
		if !changed {
			continue
		}
		if bytes.IndexByte(out, 0) >= 0 {
			t.Errorf("%s: NUL left in %q", name, out)
		}
		q, err := Parse(bytes.NewReader(out), DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		var leaves []*Part
		var walk func(*Part)
		walk = func(p *Part) {
			if p.IsMultipart() {
				for _, c := range p.Children {
					walk(c)
				}
				return
			}
			leaves = append(leaves, p)
		}
		walk(q.Body)
		got := 0
		for _, l := range leaves {
			body := out[l.BodyStart:l.End]
			switch l.Encoding {
			case "base64":
				dec, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, strings.NewReader(strings.NewReplacer("\r", "", "\n", "").Replace(string(body)))))
				if err != nil || string(dec) != c.want[got] {
					t.Errorf("%s: decoded %q (%v), want %q", name, dec, err, c.want[got])
				}
				got++
			case "binary":
				t.Errorf("%s: a part is still binary", name)
			default:
				if _, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body))); err != nil {
					t.Errorf("%s: other part damaged: %v", name, err)
				}
			}
		}
		if got != len(c.want) {
			t.Errorf("%s: %d parts rewritten, want %d\n%s", name, got, len(c.want), out)
		}
		if name == "multi" && !bytes.Contains(out, []byte("plain text\r\n--XX")) {
			t.Errorf("multi: the text part changed:\n%s", out)
		}
	}
}
