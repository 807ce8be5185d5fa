package jmapmail

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime/quotedprintable"
	"strings"
	"testing"
	"testing/iotest"

	"postern/internal/message"
)

// decodeAll reads a transfer decoder whole, in reads of every size the
// reader hands out.
func decodeAll(r io.Reader) ([]byte, error) { return io.ReadAll(r) }

func TestTransferDecoder(t *testing.T) {
	data := []byte("The quick brown fox jumps over the lazy dog, \x00\xff and more bytes to wrap a line.")
	enc := base64.StdEncoding.EncodeToString(data)
	wrapped := enc[:20] + "\r\n" + enc[20:60] + "\r\n" + enc[60:]
	for name, r := range map[string]io.Reader{
		"whole":    newTransferDecoder(strings.NewReader(wrapped), "base64"),
		"one byte": iotest.OneByteReader(newTransferDecoder(strings.NewReader(wrapped), "base64")),
		"half":     iotest.HalfReader(newTransferDecoder(strings.NewReader(wrapped), "base64")),
	} {
		got, err := decodeAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("base64 %s: %q, %v", name, got, err)
		}
	}
	d := newTransferDecoder(strings.NewReader("aGk*=\r\n"), "base64")
	if got, _ := decodeAll(d); string(got) != "hi" || !d.problem {
		t.Errorf("base64 with a bad character: %q problem=%v", got, d.problem)
	}
	d = newTransferDecoder(strings.NewReader("caf=C3=A9 =\r\nsoft =ZZ end"), "quoted-printable")
	if got, _ := decodeAll(iotest.OneByteReader(d)); string(got) != "café soft =ZZ end" || !d.problem {
		t.Errorf("quoted-printable: %q problem=%v", got, d.problem)
	}
	d = newTransferDecoder(strings.NewReader("as is"), "x-uuencode")
	if got, _ := decodeAll(d); string(got) != "as is" || !d.problem {
		t.Errorf("unknown encoding: %q problem=%v", got, d.problem)
	}
}

// FuzzTransferDecoder: decoding does not depend on how the output is
// read, and valid base64 and quoted-printable decode as the standard
// library decodes them.
func FuzzTransferDecoder(f *testing.F) {
	f.Add([]byte("aGVsbG8gd29ybGQ=\r\n"), true)
	f.Add([]byte("caf=C3=A9=\r\n ok"), false)
	f.Add([]byte("=\r\n=4"), false)
	f.Add([]byte{0xff, '=', '\n'}, true)
	f.Fuzz(func(t *testing.T, in []byte, b64 bool) {
		enc := "quoted-printable"
		if b64 {
			enc = "base64"
		}
		whole, _ := decodeAll(newTransferDecoder(bytes.NewReader(in), enc))
		small, _ := decodeAll(iotest.OneByteReader(newTransferDecoder(bytes.NewReader(in), enc)))
		if !bytes.Equal(whole, small) {
			t.Fatalf("%s: %q read whole, %q byte by byte", enc, whole, small)
		}
		if b64 {
			round := base64.StdEncoding.EncodeToString(in)
			if got, _ := decodeAll(newTransferDecoder(strings.NewReader(round), "base64")); !bytes.Equal(got, in) {
				t.Fatalf("base64 of %q decodes to %q", in, got)
			}
		} else {
			var qp bytes.Buffer
			w := quotedprintable.NewWriter(&qp)
			w.Write(in)
			w.Close()
			want, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(qp.Bytes())))
			if got, _ := decodeAll(newTransferDecoder(bytes.NewReader(qp.Bytes()), enc)); !bytes.Equal(got, want) {
				t.Fatalf("quoted-printable %q decodes to %q, want %q", qp.Bytes(), got, want)
			}
		}
	})
}

// FuzzHeaderProp: any property name is accepted or refused without a
// crash, and an accepted one gives a value from any header block.
func FuzzHeaderProp(f *testing.F) {
	block := []byte("From: a@b.c\r\nTo: G: x@y.z;, w@v.u\r\nDate: Tue, 14 Nov 2023 10:00:00 +0000\r\n" +
		"List-Post: <mailto:l@x>\r\nSubject: =?UTF-8?Q?a?=\r\n b\r\nX-Y: \xff\x00\r\n\r\nbody")
	for _, p := range []string{"header:From:asAddresses", "header:To:asGroupedAddresses:all", "header:Date:asDate",
		"header:List-Post:asURLs", "header:Subject:asText", "header:X-Y", "header:X-Y:asRaw:all", "header::",
		"header:X:asText:all:all", "header:References:asMessageIds"} {
		f.Add(p, block)
	}
	f.Fuzz(func(t *testing.T, prop string, block []byte) {
		hp, ok := parseHeaderProp(prop)
		if !ok {
			return
		}
		if hp.name == "" || strings.ContainsAny(hp.name, ": ") {
			t.Fatalf("%q accepted with name %q", prop, hp.name)
		}
		fields := splitHeader(block)
		for _, fl := range fields {
			if strings.ContainsAny(fl.name, ":\r\n") {
				t.Fatalf("field name %q", fl.name)
			}
		}
		headerValue(fields, hp)
		headersList(fields)
	})
}

// FuzzBodyStructure: any message gives a body structure, lists and
// part objects (with sizes and header forms) without a crash, every
// part in the lists is in the structure, and every leaf's blob id opens
// the part it names.
func FuzzBodyStructure(f *testing.F) {
	for _, m := range []string{rfcStructure, withParts, charsets, multiRecipient, encodedHeaders,
		"Content-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\n\r\n--x--\r\n"} {
		f.Add([]byte(strings.ReplaceAll(m, "\n", "\r\n")))
	}
	props := []string{"partId", "blobId", "size", "headers", "name", "type", "charset", "disposition", "cid",
		"language", "location", "subParts", "header:Content-Type:asRaw", "header:Content-Type:asText:all"}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := message.Parse(bytes.NewReader(raw), message.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		src := &emailSource{body: 1, root: p.Body, ra: bytes.NewReader(raw)}
		budget := int64(maxBodyValuesPerCall)
		o := bodyOptions{props: props, fetchAll: true, maxBytes: 1 << 10, budget: &budget}
		obj := map[string]any{}
		if err := src.addBodyProps(obj, []string{"bodyStructure", "textBody", "htmlBody", "attachments", "bodyValues", "headers"}, o); err != nil {
			t.Fatal(err)
		}
		l := flatten(src.jroot())
		for _, lst := range [][]*jpart{l.text, l.html, l.attachments} {
			for _, jp := range lst {
				ref, ok := parseBlobID(src.partBlob(jp.path))
				if !ok {
					t.Fatalf("blob id of %q does not parse", jp.path)
				}
				if got := p.Body.Find(ref.path); got != jp.p {
					t.Fatalf("path %q finds another part", jp.path)
				}
			}
		}
	})
}
