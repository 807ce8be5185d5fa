package message

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseAddressList(t *testing.T) {
	m := func(name, mbox, host string) Address { return Address{Name: name, Mailbox: mbox, Host: host} }
	cases := []struct {
		in   string
		want []Address
	}{
		{"", nil},
		{"  ", nil},
		{"a@b.c", []Address{m("", "a", "b.c")}},
		{`"Doe, John" <john@x.test>, jane@y.test`, []Address{m("Doe, John", "john", "x.test"), m("", "jane", "y.test")}},
		{`=?utf-8?q?J=C3=BCrgen?= <j@x.test>`, []Address{m("=?utf-8?q?J=C3=BCrgen?=", "j", "x.test")}},
		{"jdoe@one.test (John Doe)", []Address{m("John Doe", "jdoe", "one.test")}},
		{"Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", []Address{m("Pete", "pete", "silly.test")}},
		{"<@route1,@route2:user@host.test>", []Address{{Adl: "@route1,@route2", Mailbox: "user", Host: "host.test"}}},
		{`"john doe"@example.com`, []Address{m("", `"john doe"`, "example.com")}},
		{"A Group:Ed Jones <c@a.test>,joe@where.test, John <jdoe@one.test>;, after@x.test", []Address{
			{Kind: GroupStart, Mailbox: "A Group"},
			m("Ed Jones", "c", "a.test"), m("", "joe", "where.test"), m("John", "jdoe", "one.test"),
			{Kind: GroupEnd},
			m("", "after", "x.test"),
		}},
		{"group:;, group2: (foo) ;", []Address{{Kind: GroupStart, Mailbox: "group"}, {Kind: GroupEnd},
			{Kind: GroupStart, Mailbox: "group2"}, {Kind: GroupEnd}}},
		{"<user-from (comment)@ (comment) domain.org>", []Address{m("", "user-from", "domain.org")}},
		{`<"a b" (c) @x.test>`, []Address{m("", `"a b"`, "x.test")}},
		{"Empty:;", []Address{{Kind: GroupStart, Mailbox: "Empty"}, {Kind: GroupEnd}}},
		{"Unclosed: a@b.test", []Address{{Kind: GroupStart, Mailbox: "Unclosed"}, m("", "a", "b.test"), {Kind: GroupEnd}}},
		// Broken, but seen in real mail.
		{"root", []Address{m("", "root", "")}},
		{"John Smith john@x.test", []Address{m("John Smith", "john", "x.test")}},
		{"<unterminated@x.test", []Address{m("", "unterminated", "x.test")}},
		{`"unterminated quote <a@b.test>`, []Address{m("unterminated quote", "a", "b.test")}},
		{",,a@b.test,,", []Address{m("", "a", "b.test")}},
		{"<>", nil},
		{"Name <>", []Address{m("Name", "", "")}},
		// By the grammar this is a group named "mailto".
		{"mailto:x@y.test", []Address{{Kind: GroupStart, Mailbox: "mailto"}, m("", "x", "y.test"), {Kind: GroupEnd}}},
		{"a@b.test: c@d.test", []Address{m("", "a", "b.test"), m("", "c", "d.test")}},
		{"a@b.test; c@d.test", []Address{m("", "a", "b.test"), m("", "c", "d.test")}},
		{"Ünïcödé <ü@ö.test>", []Address{m("Ünïcödé", "ü", "ö.test")}},
	}
	for _, c := range cases {
		got := parseAddressList(c.in)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseAddressList(%q)\n got %#v\nwant %#v", c.in, got, c.want)
		}
	}
}

// TestSearchTextSpellsAddresses: an address written with comments inside
// is searchable as the plain address too (imaptest search-addresses).
func TestSearchTextSpellsAddresses(t *testing.T) {
	p, err := Parse(strings.NewReader("From: <user-from (comment)@ (comment) domain.org>\r\nTo: plain@x.test\r\nSubject: s\r\n\r\nbody\r\n"), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	from, _ := HeaderValue(p.Headers, "from")
	if !strings.Contains(from, "user-from@domain.org") {
		t.Errorf("search text of From: %q", from)
	}
	if to, _ := HeaderValue(p.Headers, "to"); to != "plain@x.test" {
		t.Errorf("search text of a plain To: %q", to)
	}
}

func TestAddressListBounded(t *testing.T) {
	in := ""
	for range 3000 {
		in += "a@b.test,"
	}
	if n := len(parseAddressList(in)); n != maxAddresses {
		t.Errorf("%d addresses kept", n)
	}
}

func TestAddressDisplay(t *testing.T) {
	a := Address{Name: "=?iso-8859-1?q?Fran=E7ois?=", Mailbox: "f", Host: "x.test"}
	if a.String() != "François <f@x.test>" || a.Addr() != "f@x.test" {
		t.Errorf("%q %q", a.String(), a.Addr())
	}
	if (Address{Mailbox: "root"}).String() != "root" {
		t.Error("address without host")
	}
}

func TestParams(t *testing.T) {
	cases := []struct {
		in   string
		typ  string
		want []Param
	}{
		{`Text/HTML; Charset="UTF-8"`, "text/html", []Param{{"charset", "UTF-8"}}},
		{`text/plain (comment); charset=us-ascii (Plain text)`, "text/plain", []Param{{"charset", "us-ascii"}}},
		{`application/octet-stream; name=my file.pdf; x="a;b"`, "application/octet-stream", []Param{{"name", "my file.pdf"}, {"x", "a;b"}}},
		{`text/plain; charset=a; charset=b`, "text/plain", []Param{{"charset", "a"}}},
		{`text/plain; junk; =x; q="esc\"aped"`, "text/plain", []Param{{"q", `esc"aped`}}},
		{`message/external-body; access-type=URL; URL*0="ftp://"; URL*1="cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"`,
			"message/external-body", []Param{{"access-type", "URL"}, {"url", "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"}}},
		{`application/x-stuff; title*0*=us-ascii'en'This%20is%20even%20more%20; title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2="isn't it!"`,
			"application/x-stuff", []Param{{"title*", "us-ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn%27t%20it!"}}},
		{`text/plain; a*1=second; a*0=first`, "text/plain", []Param{{"a", "firstsecond"}}},
		{`text/plain; a*1=orphan`, "text/plain", nil},
	}
	for _, c := range cases {
		typ, sub, params, ok := parseContentType(c.in)
		if !ok || typ+"/"+sub != c.typ || !reflect.DeepEqual(params, c.want) {
			t.Errorf("parseContentType(%q) = %s/%s %q %v", c.in, typ, sub, params, ok)
		}
	}
	for _, bad := range []string{"", "text", "/plain", "text/", "te xt/plain", "тип/под"} {
		if _, _, _, ok := parseContentType(bad); ok {
			t.Errorf("parseContentType(%q) accepted", bad)
		}
	}
	if got := decodeExtValue("us-ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn%27t%20it!"); got != "This is even more ***fun*** isn't it!" {
		t.Errorf("decodeExtValue %q", got)
	}
}
