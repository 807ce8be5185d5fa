package jmapmail

import (
	"encoding/json"
	"strings"

	"postern/internal/jmap"
)

// The body of a draft (RFC 8621 §4.6): given whole as bodyStructure, or as
// textBody, htmlBody and attachments, which are laid out here the way the
// RFC describes: text and HTML side by side in multipart/alternative,
// inline parts with a Content-ID next to them in multipart/related, and
// the other attachments after them in multipart/mixed.

// bodyValue is an EmailBodyValue a create gives.
type bodyValue struct {
	Value             string `json:"value"`
	IsEncodingProblem bool   `json:"isEncodingProblem"`
	IsTruncated       bool   `json:"isTruncated"`
}

// bodyDecoder carries what decoding the parts of one draft shares.
type bodyDecoder struct {
	values map[string]string
	used   map[string]bool
	parts  int
}

// decodeBody builds the body of the draft from obj.
func decodeBody(obj map[string]json.RawMessage) (*draftPart, *jmap.Error) {
	bd := &bodyDecoder{values: map[string]string{}, used: map[string]bool{}}
	if raw, ok := obj["bodyValues"]; ok {
		var vs map[string]bodyValue
		if json.Unmarshal(raw, &vs) != nil {
			return nil, invalidProps("bodyValues must map partIds to EmailBodyValues", "bodyValues")
		}
		for id, v := range vs {
			if v.IsEncodingProblem || v.IsTruncated {
				return nil, invalidProps("isEncodingProblem and isTruncated must be false", "bodyValues")
			}
			bd.values[id] = v.Value
		}
	}
	if raw, ok := obj["bodyStructure"]; ok {
		for _, k := range []string{"textBody", "htmlBody", "attachments"} {
			if _, both := obj[k]; both {
				return nil, invalidProps("bodyStructure excludes textBody, htmlBody and attachments", "bodyStructure", k)
			}
		}
		root, e := bd.part(raw, "bodyStructure", 1)
		if e != nil {
			return nil, e
		}
		return root, bd.allUsed()
	}
	text, e := bd.single(obj, "textBody", "text/plain")
	if e != nil {
		return nil, e
	}
	html, e := bd.single(obj, "htmlBody", "text/html")
	if e != nil {
		return nil, e
	}
	var atts []*draftPart
	if raw, ok := obj["attachments"]; ok {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			return nil, invalidProps("attachments must be an array of EmailBodyParts", "attachments")
		}
		for _, r := range list {
			p, e := bd.part(r, "attachments", 2)
			if e != nil {
				return nil, e
			}
			atts = append(atts, p)
		}
	}
	if e := bd.allUsed(); e != nil {
		return nil, e
	}
	return layout(text, html, atts), nil
}

// allUsed refuses bodyValues no part refers to.
func (bd *bodyDecoder) allUsed() *jmap.Error {
	for id := range bd.values {
		if !bd.used[id] {
			return invalidProps("a bodyValue no part refers to: "+id, "bodyValues")
		}
	}
	return nil
}

// single decodes textBody or htmlBody: at most one leaf, of type typ.
func (bd *bodyDecoder) single(obj map[string]json.RawMessage, prop, typ string) (*draftPart, *jmap.Error) {
	raw, ok := obj[prop]
	if !ok {
		return nil, nil
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil || len(list) > 1 {
		return nil, invalidProps(prop+" must be an array of at most one EmailBodyPart", prop)
	}
	if len(list) == 0 {
		return nil, nil
	}
	p, e := bd.part(list[0], prop, 3)
	if e != nil {
		return nil, e
	}
	if !p.typed && p.partID != "" {
		p.typ = typ // a part from bodyValues takes the type of its list
	}
	if p.typ != typ {
		return nil, invalidProps(prop+" must be of type "+typ, prop)
	}
	return p, nil
}

// layout puts text, html and attachments in the RFC's structure.
func layout(text, html *draftPart, atts []*draftPart) *draftPart {
	var body *draftPart
	switch {
	case text != nil && html != nil:
		body = &draftPart{typ: "multipart/alternative", sub: []*draftPart{text, html}}
	case text != nil:
		body = text
	case html != nil:
		body = html
	}
	var inline, mixed []*draftPart
	for _, a := range atts {
		if a.cid != "" && a.disposition != "attachment" && body != nil {
			inline = append(inline, a)
		} else {
			mixed = append(mixed, a)
		}
	}
	if len(inline) > 0 {
		body = &draftPart{typ: "multipart/related", sub: append([]*draftPart{body}, inline...)}
	}
	if len(mixed) > 0 {
		sub := mixed
		if body != nil {
			sub = append([]*draftPart{body}, mixed...)
		}
		body = &draftPart{typ: "multipart/mixed", sub: sub}
	}
	if body == nil {
		body = &draftPart{typ: "text/plain", charset: "utf-8", partID: "-"}
	}
	return body
}

// part decodes one EmailBodyPart at depth.
func (bd *bodyDecoder) part(raw json.RawMessage, prop string, depth int) (*draftPart, *jmap.Error) {
	bd.parts++
	if bd.parts > maxDraftParts {
		return nil, invalidProps("too many body parts", prop)
	}
	if depth > maxDraftDepth {
		return nil, invalidProps("body parts nested too deep", prop)
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return nil, invalidProps("an EmailBodyPart must be an object", prop)
	}
	p := &draftPart{}
	str := func(k string, dst *string) bool {
		v, ok := obj[k]
		return !ok || json.Unmarshal(v, dst) == nil
	}
	if !str("partId", &p.partID) || !str("blobId", &p.blobID) || !str("type", &p.typ) ||
		!str("charset", &p.charset) || !str("name", &p.name) || !str("disposition", &p.disposition) ||
		!str("cid", &p.cid) || !str("location", &p.location) {
		return nil, invalidProps("a property of an EmailBodyPart has the wrong type", prop)
	}
	_, p.typed = obj["type"]
	if v, ok := obj["language"]; ok && json.Unmarshal(v, &p.language) != nil {
		return nil, invalidProps("language must be an array of strings", prop)
	}
	if e := p.decodeFields(obj, prop); e != nil {
		return nil, e
	}
	if e := p.checkParams(prop); e != nil {
		return nil, e
	}
	if v, ok := obj["subParts"]; ok && string(v) != "null" {
		if !p.isMultipart() || p.partID != "" || p.blobID != "" {
			return nil, invalidProps("only a multipart has subParts", prop)
		}
		var list []json.RawMessage
		if json.Unmarshal(v, &list) != nil || len(list) == 0 {
			return nil, invalidProps("subParts must be a non-empty array", prop)
		}
		for _, r := range list {
			c, e := bd.part(r, prop, depth+1)
			if e != nil {
				return nil, e
			}
			p.sub = append(p.sub, c)
		}
		return p, nil
	}
	return p, bd.leaf(p, prop)
}

// leaf checks a part that is not a multipart: its content comes from
// exactly one of partId and blobId.
func (bd *bodyDecoder) leaf(p *draftPart, prop string) *jmap.Error {
	switch {
	case p.isMultipart():
		return invalidProps("a multipart needs subParts", prop)
	case (p.partID == "") == (p.blobID == ""):
		return invalidProps("a body part needs one of partId and blobId", prop)
	case p.partID != "":
		v, ok := bd.values[p.partID]
		if !ok {
			return invalidProps("no bodyValue for partId "+p.partID, prop, "bodyValues")
		}
		if p.typ == "" {
			p.typ = "text/plain"
		}
		if !strings.HasPrefix(p.typ, "text/") {
			return invalidProps("a part from bodyValues must be text/*", prop)
		}
		if p.charset != "" && !strings.EqualFold(p.charset, "utf-8") {
			return invalidProps("a part from bodyValues is UTF-8", prop)
		}
		p.charset, p.text = "utf-8", v
		bd.used[p.partID] = true
	case p.typ == "":
		p.typ = "application/octet-stream"
	}
	return nil
}

// partFieldsTaken are the header fields the properties of a part write.
var partFieldsTaken = map[string]bool{"content-type": true, "content-disposition": true, "content-id": true,
	"content-language": true, "content-location": true, "content-transfer-encoding": true, "mime-version": true}

// decodeFields reads the header:* properties of a part and refuses the
// others it does not know.
func (p *draftPart) decodeFields(obj map[string]json.RawMessage, prop string) *jmap.Error {
	seen := map[string]bool{}
	for _, k := range sortedKeys(obj) {
		switch k {
		case "partId", "blobId", "size", "type", "charset", "name", "disposition", "cid", "language",
			"location", "subParts":
			continue
		}
		hp, ok := parseHeaderProp(k)
		if !ok {
			return invalidProps("unknown EmailBodyPart property "+k, prop)
		}
		lower := strings.ToLower(hp.name)
		if partFieldsTaken[lower] || seen[lower] {
			return invalidProps("header field given twice or set by a property: "+k, prop)
		}
		seen[lower] = true
		fs, e := encodeField(hp.spelled, hp.form, hp.all, obj[k])
		if e != nil {
			return invalidProps(k+": "+e.Error(), prop)
		}
		p.fields = append(p.fields, fs...)
	}
	if len(p.fields) > maxDraftFields {
		return invalidProps("too many header fields", prop)
	}
	return nil
}

// checkParams checks the values that go into Content-* fields.
func (p *draftPart) checkParams(prop string) *jmap.Error {
	p.typ = strings.ToLower(p.typ)
	p.disposition = strings.ToLower(p.disposition)
	if p.typ != "" {
		t, s, ok := strings.Cut(p.typ, "/")
		if !ok || !isToken(t) || !isToken(s) {
			return invalidProps("type must be type/subtype", prop)
		}
	}
	if p.disposition != "" && !isToken(p.disposition) {
		return invalidProps("disposition must be a token", prop)
	}
	if p.charset != "" && !isToken(p.charset) {
		return invalidProps("charset must be a token", prop)
	}
	for _, l := range p.language {
		if !isToken(l) {
			return invalidProps("language must be language tags", prop)
		}
	}
	if len(p.name) > 255 || hasControl(p.name) {
		return invalidProps("name too long or with control characters", prop)
	}
	if !printableASCII(p.cid, 250) || strings.ContainsAny(p.cid, "<> ") || !printableASCII(p.location, 900) ||
		strings.Contains(p.location, " ") {
		return invalidProps("cid and location must be printable ASCII without spaces", prop)
	}
	return nil
}

// isToken: an RFC 2045 token, bounded.
func isToken(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

func printableASCII(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return true
		}
	}
	return false
}
