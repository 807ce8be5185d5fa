package jmapmail

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"postern/internal/jmap"
)

// Decoding the Email object of an Email/set create (RFC 8621 §4.6) into a
// draft: its header fields already in their wire form (draft_header.go)
// and its body as a tree of parts, checked against the RFC's rules and
// bounded, before anything is written (draft_mime.go writes it).

// Bounds of a draft, beyond those of the request (maxSizeRequest).
const (
	maxDraftParts  = 100 // body parts, multiparts included
	maxDraftDepth  = 10  // nesting of subParts
	maxDraftFields = 200 // header fields of one entity
)

// draft is a checked Email create object.
type draft struct {
	mailboxIDs map[string]bool // as given; resolved by the caller
	keywords   map[string]bool // lower case, checked
	receivedAt time.Time       // zero: now
	fields     []field         // top-level fields, without MIME ones
	body       *draftPart
	hasDate    bool
	hasMsgID   bool
}

// draftPart is one body part: a multipart with sub, or a leaf whose
// content is the text of a bodyValue (partID) or a blob (blobID).
type draftPart struct {
	typ         string // lower-case "type/subtype"
	typed       bool   // the client gave the type
	charset     string
	name        string
	disposition string
	cid         string
	language    []string
	location    string
	fields      []field // the part's other header fields
	partID      string
	text        string // the bodyValue of partID
	blobID      string
	sub         []*draftPart
}

func (p *draftPart) isMultipart() bool { return strings.HasPrefix(p.typ, "multipart/") }

// Email properties a create may not set: server-set ones, and headers,
// which clients set field by field (RFC 8621 §4.6).
var draftForbidden = map[string]bool{"id": true, "blobId": true, "threadId": true, "size": true,
	"hasAttachment": true, "preview": true, "headers": true}

// convenience properties and the header field and form they stand for.
var draftConvenience = map[string]struct {
	field string
	form  headerForm
}{
	"messageId": {"Message-ID", formMessageIDs}, "inReplyTo": {"In-Reply-To", formMessageIDs},
	"references": {"References", formMessageIDs}, "sender": {"Sender", formAddresses},
	"from": {"From", formAddresses}, "to": {"To", formAddresses}, "cc": {"Cc", formAddresses},
	"bcc": {"Bcc", formAddresses}, "replyTo": {"Reply-To", formAddresses},
	"subject": {"Subject", formText}, "sentAt": {"Date", formDate},
}

// draftOrder is the order in which the convenience fields are written.
var draftOrder = []string{"sentAt", "from", "sender", "replyTo", "to", "cc", "bcc", "subject",
	"messageId", "inReplyTo", "references"}

// decodeDraft checks an Email create object.
func decodeDraft(raw json.RawMessage) (*draft, *jmap.Error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, invalidProps("an Email must be an object")
	}
	d := &draft{}
	var bad []string
	for k := range obj {
		if draftForbidden[k] {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return nil, invalidProps("properties a client may not set", bad...)
	}
	if e := d.decodeMeta(obj); e != nil {
		return nil, e
	}
	seen := map[string]string{} // lower-case field name -> property
	for _, p := range draftOrder {
		v, ok := obj[p]
		if !ok {
			continue
		}
		c := draftConvenience[p]
		seen[strings.ToLower(c.field)] = p
		fs, e := encodeField(c.field, c.form, false, v)
		if e != nil {
			return nil, invalidProps(e.Error(), p)
		}
		d.fields = append(d.fields, fs...)
	}
	for _, k := range sortedKeys(obj) {
		if !strings.HasPrefix(k, "header:") {
			continue
		}
		hp, ok := parseHeaderProp(k)
		if !ok {
			return nil, invalidProps("not a header property", k)
		}
		lower := strings.ToLower(hp.name)
		if strings.HasPrefix(lower, "content-") || lower == "mime-version" {
			return nil, invalidProps("MIME header fields belong to body parts", k)
		}
		if prev, dup := seen[lower]; dup {
			return nil, invalidProps("the same header field twice", prev, k)
		}
		seen[lower] = k
		fs, e := encodeField(hp.spelled, hp.form, hp.all, obj[k])
		if e != nil {
			return nil, invalidProps(e.Error(), k)
		}
		d.fields = append(d.fields, fs...)
	}
	if len(d.fields) > maxDraftFields {
		return nil, invalidProps("too many header fields")
	}
	_, d.hasDate = seen["date"]
	_, d.hasMsgID = seen["message-id"]
	body, e := decodeBody(obj)
	if e != nil {
		return nil, e
	}
	d.body = body
	return d, nil
}

// decodeMeta reads mailboxIds, keywords and receivedAt, and refuses
// properties that are neither those nor header or body properties.
func (d *draft) decodeMeta(obj map[string]json.RawMessage) *jmap.Error {
	for k, v := range obj {
		switch k {
		case "mailboxIds":
			if json.Unmarshal(v, &d.mailboxIDs) != nil || len(d.mailboxIDs) == 0 {
				return invalidProps("mailboxIds must name a mailbox", k)
			}
			for _, in := range d.mailboxIDs {
				if !in {
					return invalidProps("mailboxIds values must be true", k)
				}
			}
		case "keywords":
			kw, e := decodeKeywords(v)
			if e != nil {
				return e
			}
			d.keywords = kw
		case "receivedAt":
			var s string
			if json.Unmarshal(v, &s) != nil {
				return invalidProps("receivedAt must be a UTCDate", k)
			}
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return invalidProps("receivedAt must be a UTCDate", k)
			}
			d.receivedAt = t
		case "bodyStructure", "bodyValues", "textBody", "htmlBody", "attachments":
		default:
			if _, ok := draftConvenience[k]; !ok && !strings.HasPrefix(k, "header:") {
				return invalidProps("unknown property", k)
			}
		}
	}
	if d.mailboxIDs == nil {
		return invalidProps("mailboxIds is required", "mailboxIds")
	}
	return nil
}

// decodeKeywords reads a keywords object: valid keywords, each true; the
// result is lower case.
func decodeKeywords(v json.RawMessage) (map[string]bool, *jmap.Error) {
	var kw map[string]bool
	if json.Unmarshal(v, &kw) != nil {
		return nil, invalidProps("keywords must be an object of keywords to true", "keywords")
	}
	out := make(map[string]bool, len(kw))
	for k, in := range kw {
		if !in || !validKeyword(k) {
			return nil, invalidProps("not a keyword: "+k, "keywords")
		}
		out[strings.ToLower(k)] = true
	}
	return out, nil
}
