package message

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzParse checks that no input panics the parser, that limits hold and
// that every offset lies inside the message and in order, and that the
// stored forms round-trip.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		plainMsg, alternativeMsg, mixedMsg, nestedMsg,
		crlf(plainMsg), crlf(alternativeMsg), crlf(mixedMsg), crlf(nestedMsg),
		nestedMultipart(8), bench4K(), "",
		"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\r\n--a--",
		"Content-Type: message/rfc822\n\nContent-Type: message/rfc822\n\nSubject: x\n\n",
		"Content-Type: multipart/digest; boundary=d\n\n--d\n\n--d\nContent-Type: text/html; charset=utf-16\nContent-Transfer-Encoding: base64\n\n//48AGgA\n--d--",
		"To: g: a@b, (c) <@r:d@e> \"q\\\"\" <f>;, x\nContent-Disposition: attachment; filename*0*=utf-8''%E2%82; filename*1*=%AC\n\n",
	} {
		f.Add([]byte(s))
	}
	lim := DefaultLimits()
	lim.MaxDepth = 6
	lim.MaxParts = 40
	lim.MaxHeaderFields = 30
	lim.MaxHeaderBytes = 2048
	lim.MaxSearchText = 600
	lim.MaxPreview = 40
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := Parse(bytes.NewReader(raw), lim)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if err := checkInvariants(raw, p, lim); err != nil {
			t.Fatal(err)
		}
		body, err := UnmarshalBody(p.Body.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(body.Marshal(), p.Body.Marshal()) {
			t.Fatal("body structure does not round-trip")
		}
		if _, err := UnmarshalEnvelope(p.Envelope.Marshal()); err != nil {
			t.Fatal(err)
		}
		_ = p.Envelope.DecodedSubject()
		_ = p.Envelope.DecodedFrom()
		for i := 1; i <= 3; i++ {
			if pt := p.Body.Find([]int{i, 1}); pt != nil && (pt.End > int64(len(raw)) || pt.HeaderStart < 0) {
				t.Fatalf("Find gave a part outside the message")
			}
			if pt := p.Body.Find([]int{i}); pt != nil {
				_ = pt.Filename()
			}
		}
	})
}
