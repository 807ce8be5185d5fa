package jmapsubmit

import (
	"encoding/json"
	"testing"

	"postern/internal/deliver"
)

// FuzzEnvelope: an envelope property, then its parameters, never crash;
// what decodes stays within the limits.
func FuzzEnvelope(f *testing.F) {
	f.Add([]byte(`null`))
	f.Add([]byte(`{"mailFrom":{"email":"alice@example.org","parameters":{"RET":"HDRS","ENVID":"a+2Bb"}},"rcptTo":[{"email":"b@x.test","parameters":{"NOTIFY":"SUCCESS,DELAY","ORCPT":"rfc822;b@x.test"}}]}`))
	f.Add([]byte(`{"mailFrom":{"email":"","parameters":null},"rcptTo":[]}`))
	f.Add([]byte(`{"mailFrom":{"email":"a@b","parameters":{"SMTPUTF8":null,"BODY":"8bitmime","SIZE":"12"}},"rcptTo":[{"email":"c@d","parameters":{"NOTIFY":"NEVER"}}]}`))
	f.Add([]byte(`{"mailFrom":{"email":"a@b"},"rcptTo":[{"email":"c@d","parameters":{"X":"1"}}],"extra":1}`))
	ext := map[string][]string{"8BITMIME": {}, "SIZE": {"100"}, "DSN": {}, "SMTPUTF8": {}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		env, err := decodeEnvelope(raw)
		if err != nil || env == nil {
			return
		}
		if len(env.RcptTo) > maxEnvelopeRcpts || len(env.MailFrom.Parameters) > maxParameters {
			t.Fatalf("limits not kept: %+v", env)
		}
		params, serr := checkParameters(env, ext)
		if serr == nil && len(params.rcpts) != len(env.RcptTo) {
			t.Fatalf("%d recipient options for %d recipients", len(params.rcpts), len(env.RcptTo))
		}
		if _, err := json.Marshal(env); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzIdentity: the properties of an Identity create or patch never crash
// the decoder; accepted values are within the limits.
func FuzzIdentity(f *testing.F) {
	f.Add([]byte(`{"name":"Sales","email":"sales@example.org","replyTo":[{"name":null,"email":"a@b.test"}],"bcc":null,"textSignature":"--","htmlSignature":"<p>x</p>"}`))
	f.Add([]byte(`{"mayDelete":true,"id":"i1"}`))
	f.Add([]byte(`{"replyTo":[{"email":"not an address"}],"name":7}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var obj map[string]rawProperty
		if json.Unmarshal(raw, &obj) != nil {
			return
		}
		got, bad := decodeIdentity(obj)
		if len(bad) > 0 {
			return
		}
		if got.name != nil && len(*got.name) > maxNameBytes || got.textSignature != nil && len(*got.textSignature) > maxSignatureBytes {
			t.Fatalf("limits not kept: %+v", got)
		}
		for _, list := range [][]byte{got.replyTo, got.bcc} {
			var addrs []emailAddress
			if list != nil && (json.Unmarshal(list, &addrs) != nil || len(addrs) > maxAddressList) {
				t.Fatalf("bad list %s", list)
			}
		}
	})
}

// FuzzDeriveEnvelope: any header gives an envelope or the properties at
// fault, never a crash.
func FuzzDeriveEnvelope(f *testing.F) {
	f.Add([]byte("From: a@b.test\r\nTo: c@d.test, \"E\" <e@f.test>\r\nCc: g@h.test\r\nBcc: c@d.test\r\n\r\n"))
	f.Add([]byte("Sender: s@b.test\r\nFrom: a@b.test, b@b.test\r\nTo: undisclosed-recipients:;\r\n\r\n"))
	f.Add([]byte("From: <<<\r\n\r\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		fields, _, err := deliver.SplitHeader(msg)
		if err != nil {
			return
		}
		env, bad := deriveEnvelope(fields)
		if (env == nil) == (bad == nil) {
			t.Fatalf("envelope %+v and faults %v", env, bad)
		}
	})
}
