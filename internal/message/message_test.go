package message

import (
	"reflect"
	"strings"
	"testing"
)

const plainMsg = `Return-Path: <alice@example.org>
Received: from mx.example.org by mail.example.com; Tue, 1 Jul 2025 10:00:00 +0000
Date: Tue, 1 Jul 2025 09:59:58 +0200 (CEST)
From: Alice Example <alice@example.org>
To: bob@example.com
Subject: Lunch
 on Friday?
Message-ID: <1234@example.org>
In-Reply-To: <999@example.com>

Hi Bob,

shall we   meet at noon?
-- 
Alice
`

func TestPlain(t *testing.T) {
	raw := crlf(plainMsg)
	p := parse(t, raw)
	env := p.Envelope
	if env.Subject != "Lunch on Friday?" {
		t.Errorf("subject %q (unfolded raw expected)", env.Subject)
	}
	if env.Date != "Tue, 1 Jul 2025 09:59:58 +0200 (CEST)" || env.MessageID != "<1234@example.org>" || env.InReplyTo != "<999@example.com>" {
		t.Errorf("envelope %+v", env)
	}
	want := []Address{{Name: "Alice Example", Mailbox: "alice", Host: "example.org"}}
	if !reflect.DeepEqual(env.From, want) || !reflect.DeepEqual(env.Sender, want) || !reflect.DeepEqual(env.ReplyTo, want) {
		t.Errorf("from/sender/reply-to %+v %+v %+v", env.From, env.Sender, env.ReplyTo)
	}
	if tm, ok := env.Time(); !ok || tm.Hour() != 9 || tm.Day() != 1 {
		t.Errorf("Time() = %v %v", tm, ok)
	}
	b := p.Body
	if b.Type != "text" || b.Subtype != "plain" || b.Param("charset") != "us-ascii" || b.Encoding != "7bit" {
		t.Errorf("defaults: %+v", b)
	}
	hdr, body := sliceOf(raw, b)
	if !strings.HasPrefix(hdr, "Return-Path:") || !strings.HasSuffix(hdr, "\r\n\r\n") {
		t.Errorf("header slice %q", hdr)
	}
	if body != crlf("Hi Bob,\n\nshall we   meet at noon?\n-- \nAlice\n") || b.Lines != 5 {
		t.Errorf("body %q lines %d", body, b.Lines)
	}
	if p.Preview != "Hi Bob, shall we meet at noon? -- Alice" {
		t.Errorf("preview %q", p.Preview)
	}
	if !strings.Contains(p.Headers, "Subject: Lunch on Friday?\n") || !strings.Contains(p.Headers, "From: Alice Example <alice@example.org>\n") {
		t.Errorf("headers %q", p.Headers)
	}
	if b.Find([]int{1}) != b || b.Find(nil) != b || b.Find([]int{2}) != nil || b.Find([]int{1, 1}) != nil {
		t.Error("Find on a single-part message")
	}
	if len(p.Degraded) != 0 {
		t.Errorf("degraded %v", p.Degraded)
	}
}

const alternativeMsg = `From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>
To: "Keld" <keld@dkuug.dk>
Subject: =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=
 =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=
MIME-Version: 1.0
Content-Type: multipart/alternative;
	boundary="==alt=="

This is a multi-part message in MIME format.

--==alt==
Content-Type: text/plain; charset=ISO-8859-1
Content-Transfer-Encoding: quoted-printable

Caf=E9 cr=E8me, tr=
=E8s bien.
--==alt==   
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: base64

PGh0bWw+PGhlYWQ+PHRpdGxlPklnbm9yZWQ8L3RpdGxlPjwvaGVhZD48Ym9keT48cD5DYWbDqSBj
csOobWUmbmJzcDsmYW1wOyA8Yj5odG1sPC9iPjwvcD48L2JvZHk+PC9odG1sPg==
--==alt==--

`

func TestAlternative(t *testing.T) {
	raw := crlf(alternativeMsg)
	p := parse(t, raw)
	if got := p.Envelope.DecodedSubject(); got != "If you can read this you understand the example." {
		t.Errorf("decoded subject %q", got)
	}
	if got := p.Envelope.DecodedFrom(); got != "André Pirard <PIRARD@vm1.ulg.ac.be>" {
		t.Errorf("decoded from %q", got)
	}
	if p.Envelope.From[0].Name != "=?ISO-8859-1?Q?Andr=E9?= Pirard" {
		t.Errorf("raw name %q", p.Envelope.From[0].Name)
	}
	b := p.Body
	if b.Type != "multipart" || b.Subtype != "alternative" || len(b.Children) != 2 || b.Param("boundary") != "==alt==" {
		t.Fatalf("structure %+v", b)
	}
	_, body1 := sliceOf(raw, b.Children[0])
	if body1 != "Caf=E9 cr=E8me, tr=\r\n=E8s bien." {
		t.Errorf("part 1 body %q", body1)
	}
	hdr2, body2 := sliceOf(raw, b.Children[1])
	if !strings.HasPrefix(hdr2, "Content-Type: text/html") || !strings.HasSuffix(body2, "==") {
		t.Errorf("part 2 %q %q", hdr2, body2)
	}
	if b.Children[0].Encoding != "quoted-printable" || b.Children[1].Param("charset") != "utf-8" {
		t.Errorf("params %+v", b.Children)
	}
	if p.Preview != "Café crème, très bien." {
		t.Errorf("preview %q", p.Preview)
	}
	if !strings.Contains(p.SearchText, "Café crème, très bien.") || !strings.Contains(p.SearchText, "Café crème & html") {
		t.Errorf("search text %q", p.SearchText)
	}
	if strings.Contains(p.SearchText, "Ignored") {
		t.Errorf("title of HTML head in search text %q", p.SearchText)
	}
	if b.Find([]int{2}) != b.Children[1] || b.Find([]int{3}) != nil {
		t.Error("Find on multipart")
	}
}

const mixedMsg = `From: Carol <carol@example.net>
To: undisclosed-recipients:;
Subject: Report
Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: text/plain; charset=utf-8; format=flowed
Content-Language: en, fr
Content-ID: <text@x>
Content-Description: The text

See attached.

--outer
Content-Type: application/pdf; name="=?UTF-8?Q?r=C3=A9sum=C3=A9.pdf?="
Content-Transfer-Encoding: base64
Content-Disposition: attachment;
 filename*0*=UTF-8''r%C3%A9sum;
 filename*1="e final.pdf";
 size=42
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==
Content-Location: http://example.net/report.pdf

JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVyIC9GbGF0ZURlY29k
ZT4+CnN0cmVhbQp4nCvkMlAwUDC1NNUzMVGwMDHSszRSKErlCtfiyuQK5AIAXQ8GCgplbmRzdHJl
--outer
Content-Type: text/plain; name*=iso-8859-1'en'caf%E9.txt
Content-Disposition: inline

plain attachment
--outer--
trailing epilogue
`

func TestMixedAttachments(t *testing.T) {
	raw := crlf(mixedMsg)
	p := parse(t, raw)
	to := p.Envelope.To
	if len(to) != 2 || to[0].Kind != GroupStart || to[0].Mailbox != "undisclosed-recipients" || to[1].Kind != GroupEnd {
		t.Errorf("group To %+v", to)
	}
	b := p.Body
	if len(b.Children) != 3 {
		t.Fatalf("children %d", len(b.Children))
	}
	txt, pdf, cafe := b.Children[0], b.Children[1], b.Children[2]
	if !reflect.DeepEqual(txt.Language, []string{"en", "fr"}) || txt.ID != "<text@x>" || txt.Description != "The text" {
		t.Errorf("text part %+v", txt)
	}
	if _, body := sliceOf(raw, txt); body != "See attached.\r\n" || txt.Lines != 1 {
		t.Errorf("text body %q lines %d", body, txt.Lines)
	}
	if pdf.Disposition != "attachment" || pdf.MD5 != "Q2hlY2sgSW50ZWdyaXR5IQ==" || pdf.Location != "http://example.net/report.pdf" {
		t.Errorf("pdf part %+v", pdf)
	}
	wantDP := []Param{{"size", "42"}, {"filename*", "UTF-8''r%C3%A9sume%20final.pdf"}}
	if !reflect.DeepEqual(pdf.DispositionParams, wantDP) {
		t.Errorf("disposition params %q", pdf.DispositionParams)
	}
	if got := pdf.Filename(); got != "résume final.pdf" {
		t.Errorf("filename %q", got)
	}
	if got := cafe.Filename(); got != "café.txt" {
		t.Errorf("name* filename %q", got)
	}
	pdf.DispositionParams = nil
	if got := pdf.Filename(); got != "résumé.pdf" {
		t.Errorf("RFC 2047 name %q", got)
	}
	if _, body := sliceOf(raw, cafe); body != "plain attachment" {
		t.Errorf("last part %q", body)
	}
	if !strings.HasSuffix(raw[b.BodyStart:b.End], "trailing epilogue\r\n") {
		t.Error("multipart body must include the epilogue")
	}
	if p.Preview != "See attached." {
		t.Errorf("preview %q", p.Preview)
	}
	if !strings.Contains(p.SearchText, "plain attachment") || strings.Contains(p.SearchText, "JVBER") {
		t.Errorf("search text %q", p.SearchText)
	}
}

const nestedMsg = `From: list@example.com
Subject: Fwd: hello
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain

Forwarded below.
--b1
Content-Type: message/rfc822
Content-Description: forwarded

From: Dave <dave@example.org>
Sender: robot@example.org
Reply-To: replies@example.org
Subject: hello
Content-Type: multipart/alternative; boundary="b1x"

--b1x
Content-Type: text/plain

inner text
--b1x
Content-Type: text/enriched

<bold>inner</bold>
--b1x--

--b1--
`

func TestNestedMessage(t *testing.T) {
	raw := crlf(nestedMsg)
	p := parse(t, raw)
	b := p.Body
	fwd := b.Find([]int{2})
	if fwd == nil || !fwd.IsMessage() || fwd.Description != "forwarded" {
		t.Fatalf("part 2: %+v", fwd)
	}
	env := fwd.Envelope
	if env.Subject != "hello" || env.Sender[0].Mailbox != "robot" || env.ReplyTo[0].Mailbox != "replies" || env.From[0].Name != "Dave" {
		t.Errorf("nested envelope %+v", env)
	}
	inner := fwd.Message
	if hdr, _ := sliceOf(raw, inner); !strings.HasPrefix(hdr, "From: Dave") || !strings.HasSuffix(hdr, "\r\n\r\n") {
		t.Errorf("nested header %q", hdr)
	}
	if _, body := sliceOf(raw, fwd); !strings.HasPrefix(body, "From: Dave") || !strings.HasSuffix(body, "--b1x--\r\n") {
		t.Errorf("rfc822 body %q", body)
	}
	if p21 := b.Find([]int{2, 1}); p21 == nil || p21 != inner.Children[0] {
		t.Fatalf("2.1 = %+v", p21)
	}
	if _, body := sliceOf(raw, b.Find([]int{2, 2})); body != "<bold>inner</bold>" {
		t.Errorf("2.2 body %q", body)
	}
	if b.Find([]int{2, 3}) != nil || b.Find([]int{1, 1}) != nil {
		t.Error("Find must fail for absent parts")
	}
	if p.Envelope.Subject != "Fwd: hello" || strings.Contains(p.Headers, "Dave") {
		t.Errorf("top-level envelope/headers leaked from nested: %q", p.Headers)
	}
	if p.Preview != "Forwarded below." || !strings.Contains(p.SearchText, "inner text") {
		t.Errorf("preview %q search %q", p.Preview, p.SearchText)
	}
}

func TestNestedMessageNotMultipart(t *testing.T) {
	raw := crlf("Content-Type: message/rfc822\n\nSubject: inside\n\nbody\n")
	p := parse(t, raw)
	b := p.Body
	if b.Message == nil || b.Envelope.Subject != "inside" {
		t.Fatalf("message %+v", b)
	}
	// The top-level body is part 1; the encapsulated body is 1.1.
	if b.Find([]int{1}) != b || b.Find([]int{1, 1}) != b.Message {
		t.Error("section numbering through message/rfc822")
	}
	if _, body := sliceOf(raw, b.Message); body != "body\r\n" {
		t.Errorf("inner body %q", body)
	}
}

func TestDigestDefault(t *testing.T) {
	raw := crlf("Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\n1\n--d\nContent-Type: text/plain\n\ntwo\n--d--\n")
	p := parse(t, raw)
	c := p.Body.Children
	if len(c) != 2 || c[0].Type != "message" || c[0].Subtype != "rfc822" || c[0].Envelope.Subject != "one" || c[1].Type != "text" {
		t.Fatalf("digest children %+v", c)
	}
}

func TestBareLF(t *testing.T) {
	raw := strings.ReplaceAll(mixedMsg, "\r\n", "\n")
	p := parse(t, raw)
	if len(p.Body.Children) != 3 {
		t.Fatalf("children %d", len(p.Body.Children))
	}
	if _, body := sliceOf(raw, p.Body.Children[0]); body != "See attached.\n" {
		t.Errorf("bare LF body %q", body)
	}
	if p.Body.Children[1].Filename() != "résume final.pdf" {
		t.Error("headers with bare LF")
	}
}

func TestMixedLineEndings(t *testing.T) {
	raw := "Subject: x\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\n\na\r\n--q\r\n\nb\n--q--"
	p := parse(t, raw)
	c := p.Body.Children
	if len(c) != 2 {
		t.Fatalf("children %d", len(c))
	}
	if _, b := sliceOf(raw, c[0]); b != "a" {
		t.Errorf("part 1 %q", b)
	}
	if _, b := sliceOf(raw, c[1]); b != "b" {
		t.Errorf("part 2 %q", b)
	}
}

func TestNoBody(t *testing.T) {
	for _, raw := range []string{
		"",
		"\r\n",
		"Subject: only a header",
		"Subject: only a header\r\n",
		"Subject: header and blank\r\n\r\n",
		"Content-Type: multipart/mixed; boundary=x\r\n",
		"Content-Type: message/rfc822\r\n\r\n",
	} {
		p := parse(t, raw)
		if p.Body.Size != 0 || p.Body.Lines != 0 {
			t.Errorf("%q: size %d lines %d", raw, p.Body.Size, p.Body.Lines)
		}
	}
	p := parse(t, "Subject: s\r\n\r\n")
	if p.Envelope.Subject != "s" || p.Body.BodyStart != 14 {
		t.Errorf("%+v", p.Body)
	}
}

func TestBrokenMultipart(t *testing.T) {
	cases := []struct {
		name, raw string
		children  int
		degraded  bool
	}{
		{"no close delimiter", "Content-Type: multipart/mixed; boundary=z\n\n--z\n\none\n--z\n\ntwo\n", 2, true},
		{"boundary never used", "Content-Type: multipart/mixed; boundary=z\n\njust text\n", 0, true},
		{"no boundary param", "Content-Type: multipart/mixed\n\n--z\n\none\n", 0, true},
		{"junk after close", "Content-Type: multipart/mixed; boundary=z\n\n--z\n\none\n--z--junk\n--z\nx\n", 1, false},
		{"prefix boundary", "Content-Type: multipart/mixed; boundary=z\n\n--z\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\n\ninner\n--zz--\n--z--\n", 1, false},
		{"inner unterminated", "Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/mixed; boundary=i\n\n--i\n\ninner\n--o\n\nsecond\n--o--\n", 2, true},
		{"header to boundary", "Content-Type: multipart/mixed; boundary=z\n\n--z\nContent-Type: text/plain\n--z--\n", 1, false},
		{"bad content type", "Content-Type: garbage\n\nbody\n", 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := crlf(c.raw)
			p := parse(t, raw)
			if len(p.Body.Children) != c.children {
				t.Errorf("children %d, want %d", len(p.Body.Children), c.children)
			}
			if c.children == 0 && p.Body.IsMultipart() {
				t.Error("multipart left without children")
			}
			if (len(p.Degraded) > 0) != c.degraded {
				t.Errorf("degraded %v", p.Degraded)
			}
		})
	}
}

func TestBrokenMultipartOffsets(t *testing.T) {
	raw := crlf("Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/mixed; boundary=i\n\n--i\n\ninner\n--o\n\nsecond\n--o--\n")
	p := parse(t, raw)
	first := p.Body.Children[0]
	if _, b := sliceOf(raw, first.Children[0]); b != "inner" {
		t.Errorf("inner part %q", b)
	}
	if _, b := sliceOf(raw, p.Body.Children[1]); b != "second" {
		t.Errorf("second part %q", b)
	}
	if p.Body.Children[1].Type != "text" || p.Body.Children[0].Param("boundary") != "i" {
		t.Errorf("%+v", p.Body.Children)
	}
}

func TestTransportPaddingAndPreamble(t *testing.T) {
	raw := crlf("Content-Type: multipart/mixed; boundary=\"a b\"\n\n--a b-notit\n--a b \t\n\nx\n--a b--  \n")
	p := parse(t, raw)
	if len(p.Body.Children) != 1 {
		t.Fatalf("children %d", len(p.Body.Children))
	}
	if _, b := sliceOf(raw, p.Body.Children[0]); b != "x" {
		t.Errorf("body %q", b)
	}
}

func TestEightBitHeaders(t *testing.T) {
	raw := crlf("From: Jürgen <jürgen@bücher.example>\nSubject: Grüße aus Köln\nX-Latin: caf\xe9\nContent-Type: text/plain; charset=iso-8859-15\nContent-Transfer-Encoding: 8bit\n\nPrix: 10 \xa4\n")
	p := parse(t, raw)
	if p.Envelope.Subject != "Grüße aus Köln" || p.Envelope.From[0].Host != "bücher.example" {
		t.Errorf("envelope %+v", p.Envelope)
	}
	if !strings.Contains(p.Headers, "X-Latin: café\n") {
		t.Errorf("latin-1 header not converted: %q", p.Headers)
	}
	if p.Preview != "Prix: 10 €" {
		t.Errorf("preview %q", p.Preview)
	}
}

func TestUnknownCharset(t *testing.T) {
	raw := crlf("Content-Type: text/plain; charset=x-no-such\n\nhello \xff\n")
	p := parse(t, raw)
	if p.Preview != "hello \uFFFD" {
		t.Errorf("preview %q", p.Preview)
	}
}

func TestHTMLOnlyPreview(t *testing.T) {
	raw := crlf("Content-Type: text/html\n\n<html><style>p{color:red}</style><script>alert(1)</script><!-- c --><P>Hello<br>world &lt;3</P></html>\n")
	p := parse(t, raw)
	if p.Preview != "Hello world <3" {
		t.Errorf("preview %q", p.Preview)
	}
}

func TestPreviewLength(t *testing.T) {
	raw := "Subject: long\r\n\r\n" + strings.Repeat("éabc  \r\n", 500)
	p := parse(t, raw)
	if n := len([]rune(p.Preview)); n != 256 {
		t.Errorf("preview %d chars", n)
	}
	if strings.Contains(p.Preview, "  ") || strings.HasSuffix(p.Preview, " ") {
		t.Errorf("whitespace not collapsed %q", p.Preview)
	}
}

func TestPartWithoutHeader(t *testing.T) {
	raw := "Hello world\r\nsecond line\r\n"
	p := parse(t, raw)
	if p.Body.BodyStart != 0 || p.Body.Lines != 2 || p.Preview != "Hello world second line" {
		t.Errorf("headerless message: %+v preview %q", p.Body, p.Preview)
	}
	raw = crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nno header here\n--b\nX-Field: kept\n\nbody\n--b--\n")
	p = parse(t, raw)
	c := p.Body.Children
	if len(c) != 2 {
		t.Fatalf("children %d", len(c))
	}
	if hdr, body := sliceOf(raw, c[0]); hdr != "" || body != "no header here" {
		t.Errorf("part 1 header %q body %q", hdr, body)
	}
	if _, body := sliceOf(raw, c[1]); body != "body" {
		t.Errorf("part 2 body %q", body)
	}
	// An mbox separator line stays in the header.
	p = parse(t, "From alice@example.org Tue Jul  1 10:00:00 2025\r\nSubject: mbox\r\n\r\nx\r\n")
	if p.Envelope.Subject != "mbox" {
		t.Errorf("subject %q", p.Envelope.Subject)
	}
}

func TestUnlabelled8bitText(t *testing.T) {
	raw := crlf("Content-Type: text/plain\n\nna\xefve fa\xe7ade \x80\n")
	p := parse(t, raw)
	if p.Preview != "naïve façade €" {
		t.Errorf("preview %q", p.Preview)
	}
	raw = crlf("Content-Type: text/plain\n\nalready ünïcode\n")
	if p := parse(t, raw); p.Preview != "already ünïcode" {
		t.Errorf("preview %q", p.Preview)
	}
}
