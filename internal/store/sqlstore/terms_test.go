package sqlstore

import (
	"strings"
	"testing"

	"postern/internal/message"
	"postern/internal/store"
)

// Words cut from the parts as delivery keeps them (Limits.TextParts) are
// those of the collapsed search text a search would read.
func TestTermsFromParts(t *testing.T) {
	msgs := []string{
		"Subject: plain\r\n\r\nHello  World,\r\n\ttabs\tand   spaces; café CAFÉ straße\r\n",
		"Subject: multi\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfirst part words\r\n--b\r\n" +
			"Content-Type: text/html\r\n\r\n<p>second <b>part</b> &amp; html</p>\r\n--b--\r\n",
		"Subject: qp\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nsoft=\r\nbreak caf=C3=A9\r\n",
		"Subject: none\r\nContent-Type: image/png\r\n\r\nAAAA\r\n",
	}
	for _, raw := range msgs {
		whole, err := message.Parse(strings.NewReader(raw), message.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		lim := message.DefaultLimits()
		lim.TextParts = true
		parts, err := message.Parse(strings.NewReader(raw), lim)
		if err != nil {
			t.Fatal(err)
		}
		a := termsOf(store.MessageMeta{SearchText: whole.SearchText, Headers: whole.Headers})
		b := termsOf(store.MessageMeta{TextParts: parts.TextParts, TextCut: parts.TextCut, Headers: parts.Headers})
		if a != b {
			t.Errorf("%.20q: from the search text %+v, from the parts %+v", raw, a, b)
		}
	}
	// A cut text is not all indexed.
	if tt := termsOf(store.MessageMeta{TextParts: []string{"a b"}, TextCut: true}); tt.complete {
		t.Error("a cut text counted as complete")
	}
}
