package message

import (
	"fmt"
	"sort"
	"strings"
)

// encodeCorpus is the set of messages the stored-form tests, fuzz seeds
// and benchmarks share: every shape of envelope and body structure that
// the encodings must carry, by name.
func encodeCorpus() map[string]string {
	return map[string]string{
		"plain":            crlf(plainMsg),
		"alternative":      crlf(alternativeMsg),
		"mixed":            crlf(mixedMsg),
		"nested":           crlf(nestedMsg),
		"bench4k":          bench4K(),
		"empty":            "",
		"bare-lf":          plainMsg,
		"deep":             nestedMultipart(12),
		"groups":           crlf(groupsMsg),
		"encoded-words":    crlf(encodedWordsMsg),
		"eight-bit":        crlf(eightBitMsg),
		"routes":           crlf(routesMsg),
		"sender-is-from":   crlf(senderIsFromMsg),
		"long":             longMsg(),
		"rfc822-in-rfc822": crlf(rfc822InRfc822Msg),
		"digest":           crlf(digestMsg),
		"attachments":      crlf(attachmentsMsg),
		"broken-multipart": crlf(brokenMultipartMsg),
	}
}

// longMsg has more addresses and longer strings than one varint byte
// can count.
func longMsg() string {
	many := make([]string, 200)
	for i := range many {
		many[i] = fmt.Sprintf("\"User %d\" <user%d@example.com>", i, i)
	}
	return crlf("From: " + strings.Join(many, ", ") +
		"\nSubject: " + strings.Repeat("=?UTF-8?Q?tr=C3=A8s_long?= ", 40) +
		"\nContent-Type: text/plain; charset=utf-8; name=\"" + strings.Repeat("n", 300) + "\"\n\nx\n")
}

// eightBitMsg has raw UTF-8 and Latin-1 in its header fields.
const eightBitMsg = "From: Jürgen <jürgen@bücher.example>\nTo: caf\xe9 <latin@example.org>\n" +
	"Subject: Grüße aus Köln \xff\xfe\nX-Latin: caf\xe9\n" +
	"Content-Type: text/plain; charset=iso-8859-15\nContent-Transfer-Encoding: 8bit\n\nPrix: 10 \xa4\n"

// corpusNames returns the names of encodeCorpus in a stable order.
func corpusNames(c map[string]string) []string {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

const groupsMsg = `From: Alice <alice@example.org>
To: Team: "Bob B." <bob@b.example>, carol@c.example;, dave@d.example
Cc: undisclosed-recipients:;
Bcc: =?UTF-8?Q?Gr=C3=BCppe?=: (nobody) ;
Reply-To: list: ;
Subject: groups

body
`

const encodedWordsMsg = `From: =?UTF-8?B?w4lsb2lzZSBEdXBvbnQ=?= <heloise@example.fr>
Sender: =?ISO-8859-1?Q?Andr=E9?= <andre@example.be>
To: "=?UTF-8?Q?J=C3=BCrgen?=" <juergen@example.de>
Subject: =?UTF-8?Q?=E6=97=A5=E6=9C=AC=E8=AA=9E?= and =?KOI8-R?B?8NLJ18XU?=
Date: Mon, 2 Jun 2025 08:00:00 +0000
Message-ID: <encoded@example.fr>
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Grüße
`

const routesMsg = `From: <@relay1.example,@relay2.example:user@host.example>
Sender: localuser
Reply-To: "" <empty-name@example.org>, (comment only) <c@example.org>
To: "quoted \"name\"" <q@example.org>, bare@example.org
In-Reply-To: <a@example.org> <b@example.org>
Message-ID: <routes@example.org>

x
`

const senderIsFromMsg = `From: Same <same@example.org>
Sender: Same <same@example.org>
Reply-To: Same <same@example.org>
Subject: explicit sender equal to from

x
`

const rfc822InRfc822Msg = `From: outer@example.org
Subject: Fwd: Fwd: inner
Content-Type: message/rfc822

From: middle@example.org
Subject: Fwd: inner
Content-Type: message/rfc822

From: inner@example.org
To: g: ;
Subject: inner

innermost
`

const digestMsg = `From: digest@example.org
Content-Type: multipart/digest; boundary=d

--d

From: one@example.org
Subject: one

first
--d
Content-Type: text/plain

not a message
--d--
`

const attachmentsMsg = `From: a@example.org
Content-Type: multipart/mixed; boundary="m"

--m
Content-Type: multipart/related; boundary="r"; type="text/html"

--r
Content-Type: multipart/alternative; boundary="a"

--a
Content-Type: text/plain; charset=""; format=flowed; delsp=yes

plain
--a
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<p>html=3D</p>
--a--
--r
Content-Type: image/png; name="logo.png"
Content-ID: <logo@x>
Content-Transfer-Encoding: base64
Content-Disposition: inline; filename="logo.png"; creation-date="Mon, 2 Jun 2025 08:00:00 +0000"

iVBORw0KGgo=
--r--
--m
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*=utf-8''%E2%82%AC%20rates.bin
Content-Language: de-CH
Content-Location: cid:rates

AAAA
--m
Content-Type: message/rfc822
Content-Disposition: attachment

From: fwd@example.org
To: x@example.org
Content-Type: multipart/alternative; boundary=in

--in
Content-Type: text/plain

inner
--in--
--m--
`

const brokenMultipartMsg = `Content-Type: multipart/mixed; boundary=never

--wrong
Content-Type: text/plain

no closing boundary
`
