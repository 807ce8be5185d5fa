package jmapmail

// The body and header properties of an Email (RFC 8621 §4.1.3, §4.1.4):
// headers, header:*, bodyStructure, textBody, htmlBody, attachments and
// bodyValues, for Email/get and Email/parse alike. They are built from
// the body structure parsed at delivery (or, for Email/parse, now); the
// raw message is opened only when a property needs its bytes: a header
// block, a body value, or the decoded size of an encoded part.

import (
	"context"
	"io"
	"slices"
	"strconv"
	"strings"

	"postern/internal/jmap"
	"postern/internal/message"
)

// bodyPartProperties are the EmailBodyPart properties (§4.1.4), besides
// header:* forms.
var bodyPartProperties = []string{"partId", "blobId", "size", "headers", "name", "type", "charset",
	"disposition", "cid", "language", "location", "subParts"}

// defaultBodyProperties is the RFC's default bodyProperties.
var defaultBodyProperties = []string{"partId", "blobId", "size", "name", "type", "charset", "disposition",
	"cid", "language", "location"}

// maxHeaderBlock bounds a header block read for header properties, as
// message.DefaultLimits bounds the one parsed at delivery.
const maxHeaderBlock = 256 << 10

// maxBodyValue bounds a body value when the client sets no
// maxBodyValueBytes: a larger text part is truncated (isTruncated).
const maxBodyValue = 16 << 20

// maxBodyValuesPerCall bounds the body values of one method call
// together, whatever the number of emails: values past it are truncated,
// to nothing if need be.
const maxBodyValuesPerCall = 32 << 20

// bodyOptions are the body arguments of Email/get and Email/parse.
type bodyOptions struct {
	props                          []string
	fetchText, fetchHTML, fetchAll bool
	maxBytes                       int64
	// budget is what is left of maxBodyValuesPerCall, shared by the
	// emails of the call.
	budget *int64
}

// newBodyOptions checks bodyProperties and maxBodyValueBytes.
func newBodyOptions(props *[]string, text, html, all bool, maxBytes *int64) (bodyOptions, error) {
	budget := int64(maxBodyValuesPerCall)
	o := bodyOptions{props: defaultBodyProperties, fetchText: text, fetchHTML: html, fetchAll: all, maxBytes: maxBodyValue,
		budget: &budget}
	if maxBytes != nil {
		if *maxBytes <= 0 {
			return o, jmap.NewError(jmap.InvalidArguments, "maxBodyValueBytes must be a positive integer")
		}
		o.maxBytes = min(*maxBytes, maxBodyValue)
	}
	if props != nil {
		isBody := func(p string) bool {
			for _, k := range bodyPartProperties {
				if k == p {
					return true
				}
			}
			return false
		}
		if err := checkHeaderProps(*props, isBody, "body part"); err != nil {
			return o, err
		}
		o.props = *props
	}
	return o, nil
}

// emailSource is a message whose properties are asked: a stored one or
// a blob being parsed.
type emailSource struct {
	ctx  context.Context
	body int64  // the store body the message is in, for part blob ids
	base string // the message's part path in that body ("" for all of it)
	root *message.Part
	// open returns the raw message, on first need; close releases it.
	open  func() (io.ReaderAt, error)
	ra    io.ReaderAt
	close func()
	// tree is the JMAP view of root, built on first need.
	tree *jpart
}

// raw opens the message once.
func (s *emailSource) raw() (io.ReaderAt, error) {
	if s.ra == nil {
		ra, err := s.open()
		if err != nil {
			return nil, err
		}
		s.ra = ra
	}
	return s.ra, nil
}

// fields reads the header block of part p (the message's when p is the
// root) and splits it into fields.
func (s *emailSource) fields(p *message.Part) ([]rawField, error) {
	n := min(p.BodyStart-p.HeaderStart, maxHeaderBlock)
	if n <= 0 {
		return nil, nil
	}
	ra, err := s.raw()
	if err != nil {
		return nil, err
	}
	block := make([]byte, n)
	if _, err := ra.ReadAt(block, p.HeaderStart); err != nil && err != io.EOF {
		return nil, err
	}
	return splitHeader(block), nil
}

// jpart is a node of the JMAP body structure: a multipart's children are
// its subParts, and a message/rfc822 part is a leaf.
type jpart struct {
	p    *message.Part
	path string // IMAP section path; "" for a multipart message's root
	sub  []*jpart
}

// jtree builds the JMAP body structure of a message: a multipart root
// has the empty path and its children 1, 2, ...; a single-part message is
// part 1 (RFC 3501 §6.4.5 numbering, as message.Part.Find reads it).
func jtree(root *message.Part) *jpart {
	if !root.IsMultipart() {
		return &jpart{p: root, path: "1"}
	}
	return jnode(root, "")
}

func jnode(p *message.Part, path string) *jpart {
	jp := &jpart{p: p, path: path}
	if p.IsMultipart() {
		for i, c := range p.Children {
			cp := strconv.Itoa(i + 1)
			if path != "" {
				cp = path + "." + cp
			}
			jp.sub = append(jp.sub, jnode(c, cp))
		}
	}
	return jp
}

// partBlob is the blob id of a leaf of this message.
func (s *emailSource) partBlob(path string) string {
	if s.base != "" {
		path = s.base + "." + path
	}
	return partBlobID(s.body, path)
}

// mediaType is a part's "type" property.
func mediaType(p *message.Part) string { return p.Type + "/" + p.Subtype }

// partObject is the EmailBodyPart of jp with the properties of o.
func (s *emailSource) partObject(jp *jpart, o bodyOptions) (map[string]any, error) {
	p := jp.p
	out := make(map[string]any, len(o.props))
	var fields []rawField
	needFields := false
	for _, k := range o.props {
		if k == "headers" || strings.HasPrefix(k, "header:") {
			needFields = true
		}
	}
	if needFields {
		var err error
		if fields, err = s.fields(p); err != nil {
			return nil, err
		}
	}
	leaf := !p.IsMultipart()
	for _, k := range o.props {
		switch k {
		case "partId":
			out[k] = nilIf(!leaf, jp.path)
		case "blobId":
			out[k] = nilIf(!leaf, s.partBlob(jp.path))
		case "size":
			var ra io.ReaderAt
			if leaf && !identityEncoding(p.Encoding) {
				var err error
				if ra, err = s.raw(); err != nil {
					return nil, err
				}
			}
			out[k] = decodedSize(ra, p)
		case "headers":
			out[k] = headersList(fields)
		case "name":
			out[k] = nilIf(p.Filename() == "", p.Filename())
		case "type":
			out[k] = mediaType(p)
		case "charset":
			cs := p.Param("charset")
			if cs == "" && p.Type == "text" {
				cs = "us-ascii" // RFC 2045 §5.2
			}
			out[k] = nilIf(cs == "", cs)
		case "disposition":
			out[k] = nilIf(p.Disposition == "", p.Disposition)
		case "cid":
			cid := strings.Trim(strings.TrimSpace(p.ID), "<>")
			out[k] = nilIf(cid == "", cid)
		case "language":
			if len(p.Language) == 0 {
				out[k] = nil
			} else {
				out[k] = p.Language
			}
		case "location":
			out[k] = nilIf(p.Location == "", p.Location)
		case "subParts":
			if leaf {
				out[k] = nil
				continue
			}
			subs := make([]map[string]any, 0, len(jp.sub))
			for _, c := range jp.sub {
				so, err := s.partObject(c, o)
				if err != nil {
					return nil, err
				}
				subs = append(subs, so)
			}
			out[k] = subs
		default:
			if hp, ok := parseHeaderProp(k); ok {
				out[k] = headerValue(fields, hp)
			}
		}
	}
	return out, nil
}

// nilIf is null when cond holds, else v.
func nilIf(cond bool, v any) any {
	if cond {
		return nil
	}
	return v
}

// partLists are textBody, htmlBody and attachments.
type partLists struct {
	text, html, attachments []*jpart
}

// flatten runs the algorithm of RFC 8621 §4.1.4 on the body structure.
func flatten(root *jpart) partLists {
	var l partLists
	text, html := []*jpart{}, []*jpart{}
	parseStructure([]*jpart{root}, "mixed", false, &text, &html, &l.attachments)
	l.text, l.html = text, html
	return l
}

// inlineMedia is the RFC's isInlineMediaType.
func inlineMedia(p *message.Part) bool {
	return p.Type == "image" || p.Type == "audio" || p.Type == "video"
}

// parseStructure is the RFC's function of that name. A nil text or html
// is the RFC's null: that list takes no more parts in this branch.
func parseStructure(parts []*jpart, multipartType string, inAlternative bool, text, html *[]*jpart, attachments *[]*jpart) {
	textLength, htmlLength := -1, -1
	if text != nil {
		textLength = len(*text)
	}
	if html != nil {
		htmlLength = len(*html)
	}
	for i, jp := range parts {
		p := jp.p
		t := mediaType(p)
		isInline := p.Disposition != "attachment" &&
			(t == "text/plain" || t == "text/html" || inlineMedia(p)) &&
			(i == 0 || (multipartType != "related" && (inlineMedia(p) || p.Filename() == "")))
		switch {
		case p.IsMultipart():
			parseStructure(jp.sub, p.Subtype, inAlternative || p.Subtype == "alternative", text, html, attachments)
		case isInline:
			if multipartType == "alternative" {
				switch {
				case t == "text/plain" && text != nil:
					*text = append(*text, jp)
				case t == "text/html" && html != nil:
					*html = append(*html, jp)
				case t != "text/plain" && t != "text/html":
					*attachments = append(*attachments, jp)
				}
				continue
			}
			if inAlternative {
				if t == "text/plain" {
					html = nil
				}
				if t == "text/html" {
					text = nil
				}
			}
			if text != nil {
				*text = append(*text, jp)
			}
			if html != nil {
				*html = append(*html, jp)
			}
			if (text == nil || html == nil) && inlineMedia(p) {
				*attachments = append(*attachments, jp)
			}
		default:
			*attachments = append(*attachments, jp)
		}
	}
	if multipartType == "alternative" && text != nil && html != nil {
		// Only an HTML part found: it is the text body too; and the other
		// way round.
		if textLength == len(*text) && htmlLength != len(*html) {
			*text = append(*text, (*html)[htmlLength:]...)
		}
		if htmlLength == len(*html) && textLength != len(*text) {
			*html = append(*html, (*text)[textLength:]...)
		}
	}
}

// emailBodyValue is an EmailBodyValue (§4.1.4).
type emailBodyValue struct {
	Value             string `json:"value"`
	IsEncodingProblem bool   `json:"isEncodingProblem"`
	IsTruncated       bool   `json:"isTruncated"`
}

// addBodyProps sets the header and body properties of props in obj.
func (s *emailSource) addBodyProps(obj map[string]any, props []string, o bodyOptions) error {
	var lists *partLists
	getLists := func() partLists {
		if lists == nil {
			l := flatten(s.jroot())
			lists = &l
		}
		return *lists
	}
	var top []rawField
	for _, k := range props {
		if k == "headers" || strings.HasPrefix(k, "header:") {
			var err error
			if top, err = s.fields(s.root); err != nil {
				return err
			}
			break
		}
	}
	for _, k := range props {
		var err error
		switch k {
		case "headers":
			obj[k] = headersList(top)
		case "bodyStructure":
			// The tree is no tree without subParts, whatever
			// bodyProperties says (the default list lacks it).
			so := o
			if !slices.Contains(o.props, "subParts") {
				so.props = append(slices.Clip(o.props), "subParts")
			}
			obj[k], err = s.partObject(s.jroot(), so)
		case "textBody":
			obj[k], err = s.partList(getLists().text, o)
		case "htmlBody":
			obj[k], err = s.partList(getLists().html, o)
		case "attachments":
			obj[k], err = s.partList(getLists().attachments, o)
		case "bodyValues":
			obj[k], err = s.bodyValues(getLists(), o)
		default:
			if hp, ok := parseHeaderProp(k); ok {
				obj[k] = headerValue(top, hp)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *emailSource) jroot() *jpart {
	if s.tree == nil {
		s.tree = jtree(s.root)
	}
	return s.tree
}

func (s *emailSource) partList(parts []*jpart, o bodyOptions) ([]map[string]any, error) {
	out := make([]map[string]any, 0, len(parts))
	for _, jp := range parts {
		po, err := s.partObject(jp, o)
		if err != nil {
			return nil, err
		}
		out = append(out, po)
	}
	return out, nil
}

// bodyValues reads the text parts the fetch arguments name, keyed by
// partId (§4.2).
func (s *emailSource) bodyValues(l partLists, o bodyOptions) (map[string]emailBodyValue, error) {
	out := map[string]emailBodyValue{}
	var want []*jpart
	if o.fetchText {
		want = append(want, l.text...)
	}
	if o.fetchHTML {
		want = append(want, l.html...)
	}
	if o.fetchAll {
		var walk func(*jpart)
		walk = func(jp *jpart) {
			if jp.p.IsMultipart() {
				for _, c := range jp.sub {
					walk(c)
				}
			} else {
				want = append(want, jp)
			}
		}
		walk(s.jroot())
	}
	for _, jp := range want {
		if jp.p.Type != "text" || jp.p.IsMultipart() {
			continue
		}
		if _, done := out[jp.path]; done {
			continue
		}
		ra, err := s.raw()
		if err != nil {
			return nil, err
		}
		limit := min(o.maxBytes, *o.budget)
		v := emailBodyValue{IsTruncated: true}
		if limit > 0 {
			if v, err = readBodyValue(ra, jp.p, limit); err != nil {
				return nil, err
			}
			if limit < o.maxBytes && int64(len(v.Value)) >= limit {
				v.IsTruncated = true // cut by the call's budget
			}
		}
		*o.budget -= int64(len(v.Value))
		out[jp.path] = v
	}
	return out, nil
}
