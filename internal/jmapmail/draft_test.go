package jmapmail

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/internal/jmap"
	"postern/internal/message"
)

// fakeBlobs are blobs for writeDraft in tests.
type fakeBlobs map[string][]byte

func (f fakeBlobs) open(id string) (io.ReadCloser, error) {
	b, ok := f[id]
	if !ok {
		return nil, jmap.ErrBlobNotFound
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// buildDraft decodes obj, writes it and parses the result back.
func buildDraft(t *testing.T, obj map[string]any, blobs fakeBlobs) (string, *message.Parsed) {
	t.Helper()
	raw, _ := json.Marshal(obj)
	d, e := decodeDraft(raw)
	if e != nil {
		t.Fatalf("decodeDraft: %v %v", e, e.Properties)
	}
	var out bytes.Buffer
	env := draftEnv{now: time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC), msgDomain: "example.org", open: blobs.open}
	if err := writeDraft(&out, d, env); err != nil {
		t.Fatalf("writeDraft: %v", err)
	}
	msg := out.String()
	checkWire(t, msg)
	p, err := message.Parse(strings.NewReader(msg), message.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Degraded) > 0 {
		t.Errorf("parser degraded: %v\n%s", p.Degraded, msg)
	}
	return msg, p
}

// checkWire checks the RFC 5322 line rules: CRLF only, no line over 998
// octets, header lines under 78 unless a single word is longer.
func checkWire(t *testing.T, msg string) {
	t.Helper()
	if strings.Contains(strings.ReplaceAll(msg, "\r\n", ""), "\n") || strings.Contains(strings.ReplaceAll(msg, "\r\n", ""), "\r") {
		t.Errorf("bare CR or LF in\n%s", msg)
	}
	inHeader := true
	for _, line := range strings.Split(msg, "\r\n") {
		if len(line) > hardLine {
			t.Errorf("line of %d octets", len(line))
		}
		if line == "" {
			inHeader = false
		}
		if strings.HasPrefix(line, "From:") || strings.HasPrefix(line, "Subject:") || strings.HasPrefix(line, "To:") {
			inHeader = true
		}
		if inHeader && len(line) > softLine && strings.Contains(strings.TrimSpace(line), " ") {
			t.Errorf("header line of %d octets with room to fold: %q", len(line), line)
		}
	}
}

// content decodes the body of a leaf part of msg.
func content(t *testing.T, msg string, p *message.Part) string {
	t.Helper()
	raw := msg[p.BodyStart:p.End]
	switch p.Encoding {
	case "base64":
		b, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(raw, "\r\n", ""))
		if err != nil {
			t.Fatalf("base64: %v", err)
		}
		return string(b)
	case "quoted-printable":
		b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(raw)))
		if err != nil {
			t.Fatalf("quoted-printable: %v", err)
		}
		return string(b)
	}
	return raw
}

// fieldValueIn returns the unfolded raw value of the first field name in the
// header of part p of msg.
func fieldValueIn(msg string, p *message.Part, name string) string {
	for _, f := range splitHeader([]byte(msg[p.HeaderStart:p.BodyStart])) {
		if strings.EqualFold(f.name, name) {
			return unfolded(f.value)
		}
	}
	return ""
}

func shape(p *message.Part) string {
	s := p.Type + "/" + p.Subtype
	if p.IsMultipart() {
		var kids []string
		for _, c := range p.Children {
			kids = append(kids, shape(c))
		}
		s += "(" + strings.Join(kids, " ") + ")"
	}
	return s
}

func TestDraftLayouts(t *testing.T) {
	blobs := fakeBlobs{"b1": []byte("\x89PNG\r\n\x1a\n\x00\x01binary"), "b2": []byte("%PDF-1.4 ...")}
	text := map[string]any{"partId": "t", "type": "text/plain"}
	html := map[string]any{"partId": "h", "type": "text/html"}
	inline := map[string]any{"blobId": "b1", "type": "image/png", "cid": "logo@x", "disposition": "inline"}
	att := map[string]any{"blobId": "b2", "type": "application/pdf", "name": "Résumé 2024.pdf", "disposition": "attachment"}
	values := map[string]any{"t": map[string]any{"value": "Hello\nWorld"}, "h": map[string]any{"value": "<p>Hello <img src=cid:logo@x></p>"}}
	cases := []struct {
		name  string
		obj   map[string]any
		shape string
	}{
		{"empty", map[string]any{}, "text/plain"},
		{"text", map[string]any{"textBody": []any{text}, "bodyValues": map[string]any{"t": values["t"]}}, "text/plain"},
		{"html", map[string]any{"htmlBody": []any{html}, "bodyValues": map[string]any{"h": values["h"]}}, "text/html"},
		{"html untyped", map[string]any{"htmlBody": []any{map[string]any{"partId": "h"}}, "bodyValues": map[string]any{"h": values["h"]}}, "text/html"},
		{"alternative", map[string]any{"textBody": []any{text}, "htmlBody": []any{html}, "bodyValues": values},
			"multipart/alternative(text/plain text/html)"},
		{"related", map[string]any{"htmlBody": []any{html}, "attachments": []any{inline}, "bodyValues": map[string]any{"h": values["h"]}},
			"multipart/related(text/html image/png)"},
		{"mixed", map[string]any{"textBody": []any{text}, "attachments": []any{att}, "bodyValues": map[string]any{"t": values["t"]}},
			"multipart/mixed(text/plain application/pdf)"},
		{"all", map[string]any{"textBody": []any{text}, "htmlBody": []any{html}, "attachments": []any{inline, att}, "bodyValues": values},
			"multipart/mixed(multipart/related(multipart/alternative(text/plain text/html) image/png) application/pdf)"},
		{"attachment only", map[string]any{"attachments": []any{att}}, "multipart/mixed(application/pdf)"},
		{"bodyStructure", map[string]any{"bodyValues": values, "bodyStructure": map[string]any{
			"type": "multipart/mixed", "subParts": []any{
				map[string]any{"type": "multipart/alternative", "subParts": []any{text, html}},
				map[string]any{"blobId": "b2", "type": "application/pdf", "header:Content-Description": "the CV"},
			}}}, "multipart/mixed(multipart/alternative(text/plain text/html) application/pdf)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.obj["mailboxIds"] = map[string]any{"m1": true}
			msg, p := buildDraft(t, c.obj, blobs)
			if got := shape(p.Body); got != c.shape {
				t.Fatalf("shape %s, want %s\n%s", got, c.shape, msg)
			}
			var walk func(part *message.Part)
			walk = func(part *message.Part) {
				for _, ch := range part.Children {
					walk(ch)
				}
				if part.IsMultipart() {
					return
				}
				got := content(t, msg, part)
				var want string
				switch part.Type + "/" + part.Subtype {
				case "text/plain":
					if c.name != "empty" {
						want = "Hello\r\nWorld"
					}
					if part.Param("charset") != "utf-8" {
						t.Errorf("charset %q", part.Param("charset"))
					}
				case "text/html":
					want = values["h"].(map[string]any)["value"].(string)
				case "image/png":
					want = string(blobs["b1"])
					if part.ID != "<logo@x>" || part.Disposition != "inline" || part.Encoding != "base64" {
						t.Errorf("inline part %+v", part)
					}
				case "application/pdf":
					want = string(blobs["b2"])
					if c.name == "bodyStructure" {
						if fieldValueIn(msg, part, "Content-Description") != "the CV" {
							t.Errorf("Content-Description missing\n%s", msg)
						}
						break
					}
					_, params, err := mime.ParseMediaType(fieldValueIn(msg, part, "Content-Disposition"))
					if err != nil || params["filename"] != "Résumé 2024.pdf" || part.Disposition != "attachment" {
						t.Errorf("filename %v %v in\n%s", params, err, msg)
					}
				}
				if got != want {
					t.Errorf("%s/%s content %q, want %q", part.Type, part.Subtype, got, want)
				}
			}
			walk(p.Body)
		})
	}
}

func TestDraftHeaders(t *testing.T) {
	long := strings.Repeat("Ünïcödé subject words ", 12)
	obj := map[string]any{
		"mailboxIds": map[string]any{"m1": true},
		"from":       []any{map[string]any{"name": "José Pérez", "email": "jose@example.net"}},
		"sender":     []any{map[string]any{"email": "list@example.net"}},
		"to": []any{map[string]any{"name": "Doe, John", "email": "john@example.org"},
			map[string]any{"name": "Plain Name", "email": "plain@example.org"}},
		"cc":                                []any{map[string]any{"name": `A "quoted" one`, "email": "q@example.org"}},
		"bcc":                               []any{map[string]any{"email": "hidden@example.org"}},
		"replyTo":                           []any{map[string]any{"email": "r@example.net"}},
		"subject":                           long,
		"sentAt":                            "2024-02-03T04:05:06+01:00",
		"messageId":                         []any{"abc@example.net"},
		"inReplyTo":                         []any{"parent@example.net"},
		"references":                        []any{"root@example.net", "parent@example.net"},
		"header:X-Text:asText":              "Grüße aus Köln",
		"header:X-Raw":                      " raw  value (kept)",
		"header:X-Group:asGroupedAddresses": []any{map[string]any{"name": "Team", "addresses": []any{map[string]any{"email": "t1@example.org"}, map[string]any{"name": "Zoë", "email": "t2@example.org"}}}, map[string]any{"name": nil, "addresses": []any{map[string]any{"email": "solo@example.org"}}}},
		"header:X-Ids:asMessageIds":         []any{"x@y", "z@w"},
		"header:X-When:asDate":              "2020-01-02T03:04:05Z",
		"header:List-Unsubscribe:asURLs":    []any{"mailto:u@example.org", "https://example.org/u"},
		"header:X-Multi:asText:all":         []any{"one", "twö"},
		"header:X-Addr:asAddresses":         []any{map[string]any{"name": "Ünï", "email": "u@example.org"}},
		"textBody":                          []any{map[string]any{"partId": "1"}},
		"bodyValues":                        map[string]any{"1": map[string]any{"value": "x"}},
	}
	msg, p := buildDraft(t, obj, nil)
	env := p.Envelope
	if got := env.DecodedSubject(); got != long {
		t.Errorf("subject %q\n%s", got, msg)
	}
	if len(env.From) != 1 || env.From[0].DisplayName() != "José Pérez" || env.From[0].Addr() != "jose@example.net" {
		t.Errorf("from %+v", env.From)
	}
	if len(env.To) != 2 || env.To[0].DisplayName() != "Doe, John" || env.To[1].DisplayName() != "Plain Name" {
		t.Errorf("to %+v", env.To)
	}
	if len(env.Cc) != 1 || env.Cc[0].DisplayName() != `A "quoted" one` {
		t.Errorf("cc %+v", env.Cc)
	}
	if len(env.Bcc) != 1 || len(env.Sender) != 1 || env.Sender[0].Addr() != "list@example.net" ||
		len(env.ReplyTo) != 1 || env.ReplyTo[0].Addr() != "r@example.net" {
		t.Errorf("bcc/sender/replyTo %+v %+v %+v", env.Bcc, env.Sender, env.ReplyTo)
	}
	if tm, ok := env.Time(); !ok || !tm.Equal(time.Date(2024, 2, 3, 3, 5, 6, 0, time.UTC)) {
		t.Errorf("date %q", env.Date)
	}
	if ids := message.ParseMsgIDs(env.MessageID); !slices.Equal(ids, []string{"abc@example.net"}) {
		t.Errorf("message-id %q", env.MessageID)
	}
	if ids := message.ParseMsgIDs(env.InReplyTo); !slices.Equal(ids, []string{"parent@example.net"}) {
		t.Errorf("in-reply-to %q", env.InReplyTo)
	}
	if got := message.ThreadParents(p); !slices.Equal(got, []string{"root@example.net", "parent@example.net"}) {
		t.Errorf("references %v", got)
	}
	want := map[string]string{
		"x-text":           "Grüße aus Köln",
		"x-raw":            "raw  value (kept)",
		"x-group":          "Team: t1@example.org, Zoë <t2@example.org>;, solo@example.org",
		"x-ids":            "<x@y> <z@w>",
		"x-when":           "Thu, 02 Jan 2020 03:04:05 +0000",
		"list-unsubscribe": "<mailto:u@example.org>, <https://example.org/u>",
		"x-multi":          "one",
		"x-addr":           "Ünï <u@example.org>",
	}
	for k, w := range want {
		if got, _ := message.HeaderValue(p.Headers, k); got != w {
			t.Errorf("%s = %q, want %q", k, got, w)
		}
	}
	if !strings.Contains(msg, "\r\nX-Raw: raw  value (kept)\r\n") {
		t.Errorf("raw field changed:\n%s", msg)
	}
	if strings.Count(p.Headers, "X-Multi:") != 2 || !strings.Contains(p.Headers, "X-Multi: twö") {
		t.Errorf(":all fields: %s", p.Headers)
	}
	if !strings.Contains(msg, "MIME-Version: 1.0\r\n") {
		t.Error("no MIME-Version")
	}
}

func TestDraftGeneratedFields(t *testing.T) {
	msg, p := buildDraft(t, map[string]any{"mailboxIds": map[string]any{"m1": true}}, nil)
	if tm, ok := p.Envelope.Time(); !ok || !tm.Equal(time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("generated date %q", p.Envelope.Date)
	}
	ids := message.ParseMsgIDs(p.Envelope.MessageID)
	if len(ids) != 1 || !strings.HasSuffix(ids[0], "@example.org") {
		t.Errorf("generated message-id %q\n%s", p.Envelope.MessageID, msg)
	}
}

func TestDraftLongLines(t *testing.T) {
	line := strings.Repeat("word ", 400) // 2000 octets, ASCII
	name := strings.Repeat("Ä", 120) + ".txt"
	obj := map[string]any{
		"mailboxIds": map[string]any{"m1": true},
		"bodyStructure": map[string]any{"type": "multipart/mixed", "subParts": []any{
			map[string]any{"partId": "a"},
			map[string]any{"partId": "b", "type": "text/plain"},
			map[string]any{"blobId": "b9", "type": "text/plain", "name": name, "disposition": "attachment"},
			map[string]any{"blobId": "b8", "type": "message/rfc822"},
			map[string]any{"blobId": "b7", "type": "message/rfc822"},
		}},
		"bodyValues": map[string]any{"a": map[string]any{"value": line}, "b": map[string]any{"value": "naïve ☃\ntrailing space \n"}},
	}
	blobs := fakeBlobs{"b9": []byte("x"), "b8": []byte("Subject: inner\n\nshort lines\n"),
		"b7": []byte("Subject: long\r\n\r\n" + strings.Repeat("y", 1200) + "\r\n")}
	msg, p := buildDraft(t, obj, blobs)
	parts := p.Body.Children
	if len(parts) != 5 {
		t.Fatalf("%d parts\n%s", len(parts), msg)
	}
	if parts[0].Encoding != "quoted-printable" || content(t, msg, parts[0]) != line {
		t.Errorf("long line: %s", parts[0].Encoding)
	}
	if parts[1].Encoding != "quoted-printable" || content(t, msg, parts[1]) != "naïve ☃\r\ntrailing space \r\n" {
		t.Errorf("non-ASCII text: %s %q", parts[1].Encoding, content(t, msg, parts[1]))
	}
	_, params, err := mime.ParseMediaType(fieldValueIn(msg, parts[2], "Content-Disposition"))
	if err != nil || params["filename"] != name {
		t.Errorf("RFC 2231 continuation: %v %v", params, err)
	}
	if _, params, _ := mime.ParseMediaType(fieldValueIn(msg, parts[2], "Content-Type")); params["name"] != name {
		t.Errorf("name param %v", params)
	}
	if parts[3].Encoding != "7bit" || !parts[3].IsMessage() || content(t, msg, parts[3]) != "Subject: inner\r\n\r\nshort lines\r\n" {
		t.Errorf("message/rfc822: %s %q", parts[3].Encoding, content(t, msg, parts[3]))
	}
	if parts[4].Encoding != "base64" || content(t, msg, parts[4]) != string(blobs["b7"]) {
		t.Errorf("message/rfc822 with a long line: %s", parts[4].Encoding)
	}
}

func TestDraftLongWords(t *testing.T) {
	word := strings.Repeat("w", 1500)
	msg, p := buildDraft(t, map[string]any{"mailboxIds": map[string]any{"m1": true}, "subject": word,
		"from": []any{map[string]any{"name": word, "email": "a@b.c"}}}, nil)
	if p.Envelope.DecodedSubject() != word || p.Envelope.From[0].DisplayName() != word {
		t.Errorf("long words changed\n%s", msg)
	}
	raw, _ := json.Marshal(map[string]any{"mailboxIds": map[string]any{"m1": true}, "header:X-Raw": " " + word})
	if _, e := decodeDraft(raw); e == nil {
		t.Error("a raw value longer than a line accepted")
	}
}

func TestDraftInvalid(t *testing.T) {
	mb := map[string]any{"m1": true}
	text := []any{map[string]any{"partId": "1"}}
	vals := map[string]any{"1": map[string]any{"value": "x"}}
	cases := []struct {
		name  string
		obj   map[string]any
		props []string
	}{
		{"no mailboxIds", map[string]any{}, []string{"mailboxIds"}},
		{"server-set", map[string]any{"mailboxIds": mb, "id": "e1", "size": 3}, []string{"id", "size"}},
		{"headers", map[string]any{"mailboxIds": mb, "headers": []any{}}, []string{"headers"}},
		{"unknown", map[string]any{"mailboxIds": mb, "colour": "red"}, []string{"colour"}},
		{"bad keyword", map[string]any{"mailboxIds": mb, "keywords": map[string]any{"a b": true}}, []string{"keywords"}},
		{"false keyword", map[string]any{"mailboxIds": mb, "keywords": map[string]any{"$seen": false}}, []string{"keywords"}},
		{"twice", map[string]any{"mailboxIds": mb, "subject": "a", "header:Subject:asText": "b"}, []string{"subject", "header:Subject:asText"}},
		{"form", map[string]any{"mailboxIds": mb, "header:From:asText": "x"}, []string{"header:From:asText"}},
		{"content at top", map[string]any{"mailboxIds": mb, "header:Content-Type": " text/plain"}, []string{"header:Content-Type"}},
		{"bad address", map[string]any{"mailboxIds": mb, "from": []any{map[string]any{"email": "no-at"}}}, []string{"from"}},
		{"injection", map[string]any{"mailboxIds": mb, "header:X-A": "a\r\nBcc: x@y"}, []string{"header:X-A"}},
		{"bad msgid", map[string]any{"mailboxIds": mb, "messageId": []any{"<a@b>"}}, []string{"messageId"}},
		{"bad date", map[string]any{"mailboxIds": mb, "sentAt": "yesterday"}, []string{"sentAt"}},
		{"both bodies", map[string]any{"mailboxIds": mb, "textBody": text, "bodyStructure": text[0], "bodyValues": vals},
			[]string{"bodyStructure", "textBody"}},
		{"two text parts", map[string]any{"mailboxIds": mb, "textBody": []any{text[0], text[0]}, "bodyValues": vals}, []string{"textBody"}},
		{"html as text", map[string]any{"mailboxIds": mb, "textBody": []any{map[string]any{"partId": "1", "type": "text/html"}}, "bodyValues": vals}, []string{"textBody"}},
		{"missing value", map[string]any{"mailboxIds": mb, "textBody": text}, []string{"textBody", "bodyValues"}},
		{"unused value", map[string]any{"mailboxIds": mb, "bodyValues": vals}, []string{"bodyValues"}},
		{"truncated", map[string]any{"mailboxIds": mb, "textBody": text, "bodyValues": map[string]any{"1": map[string]any{"value": "x", "isTruncated": true}}}, []string{"bodyValues"}},
		{"both sources", map[string]any{"mailboxIds": mb, "attachments": []any{map[string]any{"partId": "1", "blobId": "b1"}}, "bodyValues": vals}, []string{"attachments"}},
		{"cte in part", map[string]any{"mailboxIds": mb, "attachments": []any{map[string]any{"blobId": "b1", "header:Content-Transfer-Encoding": " base64"}}}, []string{"attachments"}},
		{"part headers", map[string]any{"mailboxIds": mb, "attachments": []any{map[string]any{"blobId": "b1", "headers": []any{}}}}, []string{"attachments"}},
		{"bad type", map[string]any{"mailboxIds": mb, "attachments": []any{map[string]any{"blobId": "b1", "type": "image"}}}, []string{"attachments"}},
		{"leaf multipart", map[string]any{"mailboxIds": mb, "bodyStructure": map[string]any{"type": "multipart/mixed", "blobId": "b1"}}, []string{"bodyStructure"}},
		{"charset of a value", map[string]any{"mailboxIds": mb, "textBody": []any{map[string]any{"partId": "1", "charset": "iso-8859-1"}}, "bodyValues": vals}, []string{"textBody"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw, _ := json.Marshal(c.obj)
			_, e := decodeDraft(raw)
			if e == nil {
				t.Fatal("accepted")
			}
			got, _ := e.Properties["properties"].([]string)
			if e.Type != jmap.InvalidProperties || !slices.Equal(got, c.props) {
				t.Errorf("got %s %v (%s), want %v", e.Type, got, e.Description, c.props)
			}
		})
	}
}

func TestDraftLimits(t *testing.T) {
	// Nesting beyond maxDraftDepth.
	part := map[string]any{"blobId": "b1"}
	for i := 0; i < maxDraftDepth+1; i++ {
		part = map[string]any{"type": "multipart/mixed", "subParts": []any{part}}
	}
	raw, _ := json.Marshal(map[string]any{"mailboxIds": map[string]any{"m1": true}, "bodyStructure": part})
	if _, e := decodeDraft(raw); e == nil {
		t.Error("too deep accepted")
	}
	var many []any
	for i := 0; i < maxDraftParts+1; i++ {
		many = append(many, map[string]any{"blobId": "b1"})
	}
	raw, _ = json.Marshal(map[string]any{"mailboxIds": map[string]any{"m1": true}, "attachments": many})
	if _, e := decodeDraft(raw); e == nil {
		t.Error("too many parts accepted")
	}
}

func FuzzDecodeDraft(f *testing.F) {
	f.Add([]byte(`{"mailboxIds":{"m1":true},"subject":"hi","textBody":[{"partId":"1"}],"bodyValues":{"1":{"value":"x"}}}`))
	f.Add([]byte(`{"mailboxIds":{"m1":true},"from":[{"name":"Zoë","email":"z@x"}],"header:X-A:asGroupedAddresses:all":[[{"name":"G","addresses":[]}]]}`))
	f.Add([]byte(`{"mailboxIds":{"m1":true},"bodyStructure":{"type":"multipart/mixed","subParts":[{"blobId":"b1","name":"é","disposition":"attachment"},{"partId":"p","type":"text/html"}]},"bodyValues":{"p":{"value":"<b>"}}}`))
	f.Add([]byte(`{"mailboxIds":{"m1":true},"htmlBody":[{"partId":"h","type":"text/html"}],"attachments":[{"blobId":"b1","cid":"c@d","disposition":"inline"}],"bodyValues":{"h":{"value":"x"}}}`))
	blobs := fakeBlobs{"b1": []byte("blob\x00\xff")}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		d, e := decodeDraft(data)
		if e != nil {
			if e.Type != jmap.InvalidProperties {
				t.Fatalf("error type %s", e.Type)
			}
			return
		}
		var out bytes.Buffer
		env := draftEnv{now: time.Unix(0, 0), msgDomain: "x", open: blobs.open}
		if err := writeDraft(&out, d, env); err != nil {
			if errors.Is(err, errLongLine) {
				t.Fatalf("checked draft with a line that cannot fit: %v", err)
			}
			return // a missing blob
		}
		for _, line := range strings.Split(out.String(), "\r\n") {
			if len(line) > hardLine {
				t.Fatalf("line of %d octets", len(line))
			}
		}
		if _, err := message.Parse(&out, message.DefaultLimits()); err != nil {
			t.Fatal(err)
		}
	})
}
