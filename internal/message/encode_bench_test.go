package message

import (
	"strings"
	"testing"
)

// The benchmarks decode the stored forms of two corpus messages: bench4k,
// a typical multipart/alternative, and attachments, a tree of ten parts
// with a forwarded message. "json" is the version 1 form that older
// databases hold, "binary" what Marshal writes now.

func BenchmarkUnmarshalEnvelope(b *testing.B) {
	for _, name := range []string{"bench4k", "groups"} {
		p, err := Parse(strings.NewReader(encodeCorpus()[name]), DefaultLimits())
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range []struct{ format, enc string }{
			{"json", string(readLegacy(b, name+".env.json"))},
			{"binary", string(p.Envelope.Marshal())},
		} {
			enc := []byte(f.enc)
			b.Run(f.format+"/"+name, func(b *testing.B) {
				b.SetBytes(int64(len(enc)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := UnmarshalEnvelope(enc); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkUnmarshalBody(b *testing.B) {
	for _, name := range []string{"bench4k", "attachments"} {
		p, err := Parse(strings.NewReader(encodeCorpus()[name]), DefaultLimits())
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range []struct{ format, enc string }{
			{"json", string(readLegacy(b, name+".body.json"))},
			{"binary", string(p.Body.Marshal())},
		} {
			enc := []byte(f.enc)
			b.Run(f.format+"/"+name, func(b *testing.B) {
				b.SetBytes(int64(len(enc)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := UnmarshalBody(enc); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
