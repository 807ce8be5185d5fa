package jmapmail

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"postern/internal/message"
)

// rfcStructure is the structure of RFC 8621 §4.1.4's example, letters in
// the bodies: G and H are attachments by disposition (the example's
// lists put them in attachments only), J an attached message.
const rfcStructure = `From: a@example.org
Subject: structure
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=top

--top
Content-Type: text/plain

A
--top
Content-Type: multipart/mixed; boundary=m2

--m2
Content-Type: multipart/alternative; boundary=alt

--alt
Content-Type: multipart/mixed; boundary=m3

--m3
Content-Type: text/plain

B
--m3
Content-Type: image/jpeg
Content-Transfer-Encoding: base64

Qw==
--m3
Content-Type: text/plain

D
--m3--
--alt
Content-Type: multipart/related; boundary=rel

--rel
Content-Type: text/html

<p>E</p>
--rel
Content-Type: image/jpeg
Content-ID: <f@example.org>

F
--rel--
--alt--
--m2
Content-Type: image/jpeg
Content-Disposition: attachment; filename=g.jpg

G
--m2
Content-Type: application/x-excel
Content-Disposition: attachment; filename=h.xls

H
--m2
Content-Type: message/rfc822

Subject: J
From: j@example.org

J
--m2--
--top
Content-Type: text/plain

K
--top--
`

func partIDs(v any) []string {
	var out []string
	for _, p := range v.([]any) {
		out = append(out, p.(map[string]any)["partId"].(string))
	}
	return out
}

// RFC 8621 §4.1.4: textBody => [A, B, C, D, K], htmlBody => [A, E, K],
// attachments => [C, F, G, H, J].
func TestEmailBodyListsRFCExample(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.deliverRaw("INBOX", rfcStructure, time.Unix(1700000000, 0))
	o := e.getEmail(emailID(m.ID), []string{"textBody", "htmlBody", "attachments", "bodyStructure", "hasAttachment"})
	if got, want := partIDs(o["textBody"]), []string{"1", "2.1.1.1", "2.1.1.2", "2.1.1.3", "3"}; !slices.Equal(got, want) {
		t.Errorf("textBody %v, want %v", got, want)
	}
	if got, want := partIDs(o["htmlBody"]), []string{"1", "2.1.2.1", "3"}; !slices.Equal(got, want) {
		t.Errorf("htmlBody %v, want %v", got, want)
	}
	if got, want := partIDs(o["attachments"]), []string{"2.1.1.2", "2.1.2.2", "2.2", "2.3", "2.4"}; !slices.Equal(got, want) {
		t.Errorf("attachments %v, want %v", got, want)
	}
	root := o["bodyStructure"].(map[string]any)
	if root["type"] != "multipart/mixed" || root["partId"] != nil || root["blobId"] != nil || len(root["subParts"].([]any)) != 3 {
		t.Errorf("bodyStructure root %v", root)
	}
	c := o["textBody"].([]any)[2].(map[string]any)
	if c["type"] != "image/jpeg" || c["size"] != 1.0 || c["blobId"] != partBlobID(m.BlobID, "2.1.1.2") {
		t.Errorf("part C %v", c)
	}
	f := o["attachments"].([]any)[1].(map[string]any)
	if f["cid"] != "f@example.org" || f["disposition"] != nil || f["charset"] != nil {
		t.Errorf("part F %v", f)
	}
	g := o["attachments"].([]any)[2].(map[string]any)
	if g["name"] != "g.jpg" || g["disposition"] != "attachment" {
		t.Errorf("part G %v", g)
	}
	a := o["textBody"].([]any)[0].(map[string]any)
	if a["charset"] != "us-ascii" || a["language"] != nil || a["location"] != nil {
		t.Errorf("part A %v", a)
	}
}

// flattenPaths runs flatten on a parsed message.
func flattenPaths(t *testing.T, raw string) (text, html, att []string) {
	t.Helper()
	root := parseRaw(t, raw)
	l := flatten(jtree(root))
	for _, lst := range []struct {
		in  []*jpart
		out *[]string
	}{{l.text, &text}, {l.html, &html}, {l.attachments, &att}} {
		for _, jp := range lst.in {
			*lst.out = append(*lst.out, jp.path)
		}
	}
	return
}

// The other branches of the algorithm: an alternative with HTML only
// gives the HTML part to textBody too, one with plain text only gives it
// to htmlBody; a text part with a name after the first is an attachment;
// a single-part message is part 1.
func TestEmailBodyListsAlternatives(t *testing.T) {
	htmlOnly := "Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/html\n\n<b>x</b>\n--b--\n"
	text, html, att := flattenPaths(t, htmlOnly)
	if !slices.Equal(text, []string{"1"}) || !slices.Equal(html, []string{"1"}) || att != nil {
		t.Errorf("html only: %v %v %v", text, html, att)
	}
	plainOnly := "Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nx\n--b--\n"
	text, html, _ = flattenPaths(t, plainOnly)
	if !slices.Equal(text, []string{"1"}) || !slices.Equal(html, []string{"1"}) {
		t.Errorf("plain only: %v %v", text, html)
	}
	named := "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nx\n--b\n" +
		"Content-Type: text/plain; name=notes.txt\n\ny\n--b--\n"
	text, _, att = flattenPaths(t, named)
	if !slices.Equal(text, []string{"1"}) || !slices.Equal(att, []string{"2"}) {
		t.Errorf("named text: %v %v", text, att)
	}
	text, html, att = flattenPaths(t, "Subject: x\n\nbody\n")
	if !slices.Equal(text, []string{"1"}) || !slices.Equal(html, []string{"1"}) || att != nil {
		t.Errorf("single part: %v %v %v", text, html, att)
	}
}

const encodedHeaders = `Message-ID: <one@example.net>
References: <a@example.net>
  <b@example.net>
Subject: =?ISO-8859-1?Q?caf=E9?= and =?UTF-8?B?w6k=?=
From: "Smith, J." <j@example.net>, =?UTF-8?Q?Ren=C3=A9?= <rene@example.net>
To: Friends: a@example.org, b@example.org;, c@example.org
Date: Tue, 14 Nov 2023 10:00:00 -0500 (EST)
List-Unsubscribe: <mailto:leave@example.net?subject=bye>,
 <https://example.net/leave>
X-Thing: one
X-Thing: two =?UTF-8?Q?tr=C3=A8s?=
Content-Type: text/plain; charset=utf-8

hello
`

func TestEmailHeaderForms(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.deliverRaw("INBOX", encodedHeaders, time.Unix(1700000000, 0))
	o := e.getEmail(emailID(m.ID), []string{
		"header:Subject:asText", "header:subject", "header:From:asAddresses", "header:To:asGroupedAddresses",
		"header:References:asMessageIds", "header:Date:asDate", "header:List-Unsubscribe:asURLs",
		"header:X-Thing:all", "header:x-thing:asText:all", "header:X-Missing", "header:X-Missing:all",
		"header:X-Thing:asDate", "headers", "references"})
	check := func(prop string, want any) {
		t.Helper()
		got, _ := json.Marshal(o[prop])
		w, _ := json.Marshal(want)
		if string(got) != string(w) {
			t.Errorf("%s = %s, want %s", prop, got, w)
		}
	}
	check("header:Subject:asText", "café and é")
	check("header:subject", " =?ISO-8859-1?Q?caf=E9?= and =?UTF-8?B?w6k=?=")
	check("header:From:asAddresses", []map[string]any{{"name": "Smith, J.", "email": "j@example.net"},
		{"name": "René", "email": "rene@example.net"}})
	check("header:To:asGroupedAddresses", []map[string]any{
		{"name": "Friends", "addresses": []map[string]any{{"name": nil, "email": "a@example.org"}, {"name": nil, "email": "b@example.org"}}},
		{"name": nil, "addresses": []map[string]any{{"name": nil, "email": "c@example.org"}}}})
	check("header:References:asMessageIds", []string{"a@example.net", "b@example.net"})
	check("references", []string{"a@example.net", "b@example.net"})
	check("header:Date:asDate", "2023-11-14T10:00:00-05:00")
	check("header:List-Unsubscribe:asURLs", []string{"mailto:leave@example.net?subject=bye", "https://example.net/leave"})
	check("header:X-Thing:all", []string{" one", " two =?UTF-8?Q?tr=C3=A8s?="})
	check("header:x-thing:asText:all", []string{"one", "two très"})
	check("header:X-Missing", nil)
	check("header:X-Missing:all", []string{})
	check("header:X-Thing:asDate", nil)
	hs := o["headers"].([]any)
	if len(hs) != 10 {
		t.Fatalf("headers: %v", hs)
	}
	if h := hs[1].(map[string]any); h["name"] != "References" || h["value"] != " <a@example.net>\r\n  <b@example.net>" {
		t.Errorf("headers[1] = %q", h)
	}
}

// Header properties on body parts, and the headers of a part.
func TestEmailPartHeaders(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.deliverRaw("INBOX", multiRecipient, time.Unix(1700000000, 0))
	r := e.call("Email/get", e.args("ids", []string{emailID(m.ID)}, "properties", []string{"attachments", "bodyStructure"},
		"bodyProperties", []string{"partId", "headers", "header:Content-Disposition:asText", "header:Content-Type", "subParts"}), "Email/get")
	o := r["list"].([]any)[0].(map[string]any)
	att := o["attachments"].([]any)[0].(map[string]any)
	if att["header:Content-Disposition:asText"] != "attachment; filename=a.pdf" || att["header:Content-Type"] != " application/pdf" {
		t.Errorf("attachment %v", att)
	}
	if len(att) != 5 || att["subParts"] != nil {
		t.Errorf("attachment properties %v", att)
	}
	root := o["bodyStructure"].(map[string]any)
	if hs := root["headers"].([]any); len(hs) != 14 {
		t.Errorf("root headers %d: %v", len(hs), hs)
	}
	if subs := root["subParts"].([]any); len(subs) != 2 || subs[0].(map[string]any)["partId"] != "1" {
		t.Errorf("subParts %v", subs)
	}
	if typ := e.errorType("Email/get", e.args("ids", []string{}, "bodyProperties", []string{"color"})); typ != "invalidArguments" {
		t.Errorf("bad body property: %s", typ)
	}
	if typ := e.errorType("Email/get", e.args("ids", []string{}, "bodyProperties", []string{"header:To:asURLs"})); typ != "invalidArguments" {
		t.Errorf("bad body header form: %s", typ)
	}
}

const charsets = `Subject: charsets
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

caf=C3=A9 au lait, soft=
 break
--b
Content-Type: text/html; charset=iso-8859-1
Content-Transfer-Encoding: base64

PHA+Y2Fm6TwvcD4=
--b
Content-Type: text/plain; charset=x-no-such-charset

plain bytes
--b
Content-Type: text/plain; charset=utf-8

bad ` + "\xff\xfe" + ` utf8
--b
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

!!!aGk=
--b--
`

func TestEmailBodyValues(t *testing.T) {
	e := newEnv(t, Options{})
	m := e.deliverRaw("INBOX", charsets, time.Unix(1700000000, 0))
	get := func(args ...any) map[string]any {
		t.Helper()
		a := append([]any{"ids", []string{emailID(m.ID)}, "properties", []string{"bodyValues", "textBody"}}, args...)
		r := e.call("Email/get", e.args(a...), "Email/get")
		return r["list"].([]any)[0].(map[string]any)["bodyValues"].(map[string]any)
	}
	if bv := get(); len(bv) != 0 {
		t.Errorf("no fetch: %v", bv)
	}
	all := get("fetchAllBodyValues", true)
	want := map[string]emailBodyValue{
		"1": {Value: "café au lait, soft break"},
		"2": {Value: "<p>café</p>"},
		"3": {Value: "plain bytes", IsEncodingProblem: true},
		"4": {Value: "bad \uFFFD utf8", IsEncodingProblem: true},
		"5": {Value: "hi", IsEncodingProblem: true},
	}
	for id, w := range want {
		raw, _ := json.Marshal(all[id])
		var got emailBodyValue
		if err := json.Unmarshal(raw, &got); err != nil || got != w {
			t.Errorf("bodyValues[%s] = %s, want %+v", id, raw, w)
		}
	}
	// textBody of a mixed without alternatives: every inline text part;
	// the HTML part is in textBody too, the plain ones in htmlBody.
	if text := get("fetchTextBodyValues", true); len(text) != 5 {
		t.Errorf("fetchTextBodyValues: %v", text)
	}
	trunc := get("fetchAllBodyValues", true, "maxBodyValueBytes", 4)
	if v := trunc["1"].(map[string]any); v["value"] != "caf" || v["isTruncated"] != true {
		t.Errorf("truncated in a character: %v", v)
	}
	if v := trunc["3"].(map[string]any); v["value"] != "plai" || v["isTruncated"] != true {
		t.Errorf("truncated: %v", v)
	}
}

// parseRaw parses a message written with LF line ends.
func parseRaw(t testing.TB, raw string) *message.Part {
	t.Helper()
	p, err := message.Parse(strings.NewReader(strings.ReplaceAll(raw, "\n", "\r\n")), message.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return p.Body
}

// The body values of one call share a budget: past it they are cut, to
// nothing if need be, and say so.
func TestBodyValuesBudget(t *testing.T) {
	raw := strings.ReplaceAll(charsets, "\n", "\r\n")
	p, err := message.Parse(strings.NewReader(raw), message.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	budget := int64(15)
	o := bodyOptions{props: defaultBodyProperties, fetchAll: true, maxBytes: maxBodyValue, budget: &budget}
	src := &emailSource{body: 1, root: p.Body, ra: strings.NewReader(raw)}
	bv, err := src.bodyValues(flatten(src.jroot()), o)
	if err != nil {
		t.Fatal(err)
	}
	if v := bv["1"]; v.Value != "café au lait, " || !v.IsTruncated {
		t.Errorf("first value %+v", v)
	}
	if v := bv["2"]; v.Value != "" || !v.IsTruncated {
		t.Errorf("second value %+v", v)
	}
}
