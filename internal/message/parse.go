package message

import (
	"io"
	"strings"
)

// stop tells where and why the scan of a region ended: at a boundary
// delimiter line of an enclosing multipart, or at the end of input.
type stop struct {
	level   int   // index of the matched boundary in parser.bounds; -1 at EOF
	closing bool  // a close delimiter ("--boundary--")
	end     int64 // where the region's content ends
	nlEnd   int64 // LF bytes in [0, end)
	partial bool  // the byte before end is not a LF (an unterminated last line)
}

// parser holds the state of one Parse call.
type parser struct {
	sc       *scanner
	lim      Limits
	bounds   []string // boundaries of the enclosing multiparts, outermost first
	parts    int
	degraded []string
	text     *textCollector
	hdr      []byte // the header block being read, reused
	scratch  []byte // unfolding buffer, reused
}

func newParser(r io.Reader, lim Limits) *parser {
	return &parser{sc: newScanner(r), lim: lim, text: newTextCollector(lim)}
}

// degrade records why part of the message is treated as opaque, once per reason.
func (p *parser) degrade(reason string) {
	for _, r := range p.degraded {
		if r == reason {
			return
		}
	}
	p.degraded = append(p.degraded, reason)
}

// rootResult is the top-level entity and what only it has.
type rootResult struct {
	part    *Part
	env     *Envelope
	headers string
}

// parseMessage parses the whole input as one message.
func (p *parser) parseMessage() rootResult {
	e := p.parseEntity(0, false, true)
	// A top-level entity ends only at EOF; drain anything left by a
	// degraded scan so Size and Lines cover the whole input.
	for p.sc.next() != nil {
	}
	st := p.eofStop()
	e.part.finish(st, e.nlBody)
	return rootResult{part: e.part, env: e.env, headers: e.headers}
}

// entity is one parsed entity with the scan state needed to close it.
type entity struct {
	part    *Part
	env     *Envelope
	headers string
	nlBody  int64 // LF bytes before the body
	st      stop  // what ended the entity
}

// parseEntity parses the entity starting at the current position: its
// header block and its body, down to the boundary or EOF that ends it.
// depth counts the composite entities around it; digest selects the
// multipart/digest default type (RFC 2046 §5.1.5); msg asks for the
// envelope (the entity is a message, not a body part).
func (p *parser) parseEntity(depth int, digest, msg bool) entity {
	p.parts++
	part := &Part{HeaderStart: p.sc.off}
	h, he := p.readHeader(msg, depth == 0)
	part.BodyStart = he.bodyStart
	h.apply(part, digest)
	e := entity{part: part, headers: h.text, nlBody: he.nlBody}
	if msg {
		e.env = h.envelope()
	}
	if he.ended {
		// No blank line: the header ran into a boundary or EOF, so the
		// body is empty.
		if part.IsMultipart() || isMessageType(part) {
			p.opaque(part, "composite part without body")
		}
		e.st = part.finish(he.st, e.nlBody)
		return e
	}
	switch {
	case part.IsMultipart():
		e.st = p.parseMultipart(part, depth)
	case isMessageType(part) && !encodedMessage(part):
		e.st = p.parseEncapsulated(part, depth)
	default:
		e.st = p.parseLeaf(part)
	}
	e.st = part.finish(e.st, e.nlBody)
	return e
}

// isMessageType tells whether the part encapsulates a whole message
// (RFC 2046 §5.2.1; RFC 6532 §3.7 message/global).
func isMessageType(p *Part) bool {
	return p.Type == "message" && (p.Subtype == "rfc822" || p.Subtype == "global")
}

// encodedMessage is a message/rfc822 with a transfer encoding that
// RFC 2046 §5.2.1 forbids; its body cannot be parsed as a message.
func encodedMessage(p *Part) bool {
	return p.Encoding == "base64" || p.Encoding == "quoted-printable"
}

// opaque turns a composite part that cannot be parsed into a leaf.
func (p *parser) opaque(part *Part, reason string) {
	p.degrade(reason)
	part.Type, part.Subtype = "application", "octet-stream"
	part.Params = nil
	part.Children = nil
	part.Message, part.Envelope = nil, nil
}

// finish sets the end, size and line count of a part from the stop that
// ended its body. When a delimiter follows the header's blank line at
// once, the CRLF it claims is that of the blank line: the body is empty
// and ends at BodyStart, and the returned stop says so, so the enclosing
// parts end no earlier than this one.
func (part *Part) finish(st stop, nlBody int64) stop {
	if st.end < part.BodyStart {
		st.end, st.nlEnd, st.partial = part.BodyStart, nlBody, false
	}
	part.End = st.end
	part.Size = part.End - part.BodyStart
	part.Lines = 0
	if part.End > part.BodyStart {
		part.Lines = st.nlEnd - nlBody
		if st.partial {
			part.Lines++
		}
	}
	return st
}

// parseLeaf scans a body that is not composite, collecting its text.
func (p *parser) parseLeaf(part *Part) stop {
	if !p.text.begin(part) {
		return p.scanBody(false)
	}
	st := p.scanBody(true)
	p.text.end(part)
	return st
}

// parseEncapsulated parses the message inside a message/rfc822 part.
func (p *parser) parseEncapsulated(part *Part, depth int) stop {
	if depth+1 > p.lim.MaxDepth {
		p.opaque(part, "nesting too deep")
		return p.parseLeaf(part)
	}
	if p.parts >= p.lim.MaxParts {
		p.opaque(part, "too many parts")
		return p.parseLeaf(part)
	}
	e := p.parseEntity(depth+1, false, true)
	part.Message, part.Envelope = e.part, e.env
	return e.st
}

// parseMultipart parses the preamble, the body parts and the epilogue of a
// multipart (RFC 2046 §5.1.1).
func (p *parser) parseMultipart(part *Part, depth int) stop {
	boundary := part.Param("boundary")
	if boundary == "" || depth+1 > p.lim.MaxDepth {
		reason := "multipart without boundary"
		if boundary != "" {
			reason = "nesting too deep"
		}
		p.opaque(part, reason)
		return p.parseLeaf(part)
	}
	level := len(p.bounds)
	p.bounds = append(p.bounds, boundary)
	digest := part.Subtype == "digest"
	st := p.scanBody(false) // the preamble
	for st.level == level && !st.closing {
		if p.parts >= p.lim.MaxParts {
			p.degrade("too many parts")
			st = p.scanBody(false)
			continue
		}
		e := p.parseEntity(depth+1, digest, false)
		part.Children = append(part.Children, e.part)
		st = e.st
	}
	p.bounds = p.bounds[:level]
	if st.level == level {
		// After the close delimiter: the epilogue, up to an enclosing
		// boundary or EOF.
		st = p.scanBody(false)
	} else {
		p.degrade("multipart without close delimiter")
	}
	if len(part.Children) == 0 {
		p.opaque(part, "multipart without parts")
	}
	return st
}

// scanBody reads lines up to the next boundary delimiter of an enclosing
// multipart, or EOF. With collect, the lines go to the text collector.
func (p *parser) scanBody(collect bool) stop {
	for {
		l := p.sc.next()
		if l == nil {
			return p.eofStop()
		}
		if st, ok := p.boundaryAt(l); ok {
			return st
		}
		if collect {
			p.text.write(l.b)
		}
	}
}

// boundaryAt tells whether the line is a delimiter of an enclosing
// multipart, innermost first, and if so where the content before it ends:
// the CRLF before a delimiter belongs to it (RFC 2046 §5.1.1).
func (p *parser) boundaryAt(l *line) (stop, bool) {
	if !l.atStart || len(p.bounds) == 0 || len(l.b) < 3 || l.b[0] != '-' || l.b[1] != '-' {
		return stop{}, false
	}
	c := l.content()
	for i := len(p.bounds) - 1; i >= 0; i-- {
		ok, closing := matchBoundary(c, p.bounds[i])
		if !ok {
			continue
		}
		st := stop{level: i, closing: closing, end: l.start - int64(l.prevEOL), nlEnd: l.nlBefore}
		if l.prevEOL > 0 {
			st.nlEnd--
		}
		st.partial = l.before[2-l.prevEOL] != '\n'
		return st, true
	}
	return stop{}, false
}

// eofStop is the stop at the end of input.
func (p *parser) eofStop() stop {
	return stop{level: -1, end: p.sc.off, nlEnd: p.sc.nl, partial: p.sc.last != '\n'}
}

// headerEnd tells where a header block ended.
type headerEnd struct {
	bodyStart int64
	nlBody    int64 // LF bytes before bodyStart
	// ended is true when the block ran into a boundary or EOF instead of
	// a blank line; st is then what ended it and the body is empty.
	ended bool
	st    stop
}

// readHeader reads a header block up to its blank line (RFC 5322 §2.1).
func (p *parser) readHeader(msg, top bool) (header, headerEnd) {
	start, nlStart, lastStart := p.sc.off, p.sc.nl, p.sc.last
	p.hdr = p.hdr[:0]
	full := false
	var he headerEnd
	for first := true; ; first = false {
		l := p.sc.next()
		if l == nil {
			he.st, he.ended = p.eofStop(), true
			break
		}
		if l.isBlank() {
			break
		}
		if s, ok := p.boundaryAt(l); ok {
			he.st, he.ended = s, true
			break
		}
		if first && !isFieldStart(l.content()) {
			// Text where the header should be: the part has no header
			// and this is its first body line.
			p.sc.unread()
			p.degrade("part without header")
			return p.parseHeader(nil, msg, top), headerEnd{bodyStart: start, nlBody: nlStart}
		}
		if len(p.hdr)+len(l.b) > p.lim.MaxHeaderBytes {
			full = true
			continue
		}
		p.hdr = append(p.hdr, l.b...)
	}
	if full {
		p.degrade("header block too large")
	}
	he.bodyStart, he.nlBody = p.sc.off, p.sc.nl
	if he.ended {
		if he.st.end < start {
			// The delimiter right after the previous one claims its
			// CRLF: this part is empty where it began.
			he.st.end, he.st.nlEnd, he.st.partial = start, nlStart, lastStart != '\n'
		}
		he.bodyStart, he.nlBody = he.st.end, he.st.nlEnd
	}
	return p.parseHeader(p.hdr, msg, top), he
}

// isFieldStart tells whether a line can begin a header block: a field
// name of printable ASCII up to a colon (RFC 5322 §2.2), or an mbox
// "From " line, which some clients leave in front of a message.
func isFieldStart(c []byte) bool {
	if len(c) >= 5 && string(c[:5]) == "From " {
		return true
	}
	for i, ch := range c {
		if ch == ':' {
			return i > 0
		}
		if ch <= ' ' || ch >= 0x7f {
			return false
		}
	}
	return false
}

// lower returns s in lower case, without allocating when it already is.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
