package sieve

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"strings"

	"github.com/emersion/go-message/charset"
)

// Message is the message being delivered. The interpreter reads the
// header section and, only for body tests and duplicate/editheader,
// the body.
type Message interface {
	Size() int64
	Open() (io.ReadCloser, error) // the whole raw RFC 5322 message, CRLF line ends
}

// maxHeaderBytes bounds the header section read; fields beyond it are
// not seen by tests.
const maxHeaderBytes = 1 << 20

// field is one header field. raw is the value as in the message (after
// the colon, folding kept); decoded is filled on first use.
type field struct {
	name    string // as written
	lname   string // lower-cased
	raw     string
	decoded string
	dec     bool
	addrs   []address // parsed on first use
	addrsOK bool
}

// addresses returns the field's addresses, parsed once.
func (f *field) addresses() []address {
	if !f.addrsOK {
		f.addrs = parseAddresses(unfold(f.raw))
		for i := range f.addrs {
			f.addrs[i].local = decodeHeader(f.addrs[i].local)
		}
		f.addrsOK = true
	}
	return f.addrs
}

// msgView is the message as the script sees it: its header fields,
// changed by editheader as the script runs (RFC 5293 §3), and its body
// when a test needs it.
type msgView struct {
	m          Message
	maxBody    int64
	fields     []*field
	loaded     bool
	err        error
	body       []byte
	bodyLoaded bool
	bodyErr    error
	partCache  map[string][]string
}

func (v *msgView) load() error {
	if v.loaded {
		return v.err
	}
	v.loaded = true
	if v.m == nil {
		return nil
	}
	rc, err := v.m.Open()
	if err != nil {
		v.err = err
		return err
	}
	defer rc.Close()
	v.fields, v.err = readHeader(bufio.NewReader(io.LimitReader(rc, maxHeaderBytes)))
	return v.err
}

// readHeader reads header fields up to the blank line, unfolding
// nothing: raw values keep their folding. A line without a colon ends
// the header, as a broken message's body.
func readHeader(r *bufio.Reader) ([]*field, error) {
	var out []*field
	for {
		line, err := r.ReadString('\n')
		if line == "" && err != nil {
			if err == io.EOF {
				return out, nil
			}
			return out, err
		}
		trimmed := strings.TrimRight(line, "\r\n")
		if trimmed == "" {
			return out, nil
		}
		if (trimmed[0] == ' ' || trimmed[0] == '\t') && len(out) > 0 {
			f := out[len(out)-1]
			f.raw += "\r\n" + trimmed
		} else {
			name, val, ok := strings.Cut(trimmed, ":")
			name = strings.TrimRight(name, " \t")
			if !ok || !validFieldName(name) {
				if len(out) == 0 && strings.HasPrefix(trimmed, "From ") {
					continue // an mbox From_ line
				}
				return out, nil
			}
			out = append(out, &field{name: name, lname: strings.ToLower(name), raw: val})
		}
		if err != nil {
			return out, nil
		}
	}
}

// values returns the fields named name (lower-case), in order.
func (v *msgView) named(name string) []*field {
	var out []*field
	for _, f := range v.fields {
		if f.lname == name {
			out = append(out, f)
		}
	}
	return out
}

// pick applies :index and :last (RFC 5260 §6) to fields.
func pick(fs []*field, index int, last bool) []*field {
	if index == 0 {
		return fs
	}
	if index > len(fs) {
		return nil
	}
	if last {
		return fs[len(fs)-index : len(fs)-index+1]
	}
	return fs[index-1 : index]
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// value is a field's value as header tests see it: unfolded, trimmed,
// RFC 2047 words decoded (RFC 5228 §5.7).
func (f *field) value() string {
	if !f.dec {
		f.decoded = decodeHeader(unfold(f.raw))
		f.dec = true
	}
	return f.decoded
}

func unfold(s string) string {
	if strings.IndexByte(s, '\n') >= 0 {
		s = strings.NewReplacer("\r\n", "", "\n", "").Replace(s)
	}
	return strings.Trim(s, " \t")
}

func decodeHeader(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	d, err := wordDecoder.DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
}

// loadRaw reads the whole message, up to the header limit and maxBody.
func (v *msgView) loadRaw() ([]byte, error) {
	if v.bodyLoaded {
		return v.body, v.bodyErr
	}
	v.bodyLoaded = true
	if v.m == nil {
		return nil, nil
	}
	if mem, ok := v.m.(interface{ Bytes() []byte }); ok && int64(len(mem.Bytes())) <= maxHeaderBytes+v.maxBody {
		// A message held in memory is read where it is, never written to.
		v.body = mem.Bytes()
		return v.body, nil
	}
	rc, err := v.m.Open()
	if err != nil {
		v.bodyErr = err
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxHeaderBytes+v.maxBody))
	if err != nil {
		v.bodyErr = err
		return nil, err
	}
	v.body = raw
	return v.body, nil
}

// splitBody returns what follows the header section of raw.
func splitBody(raw []byte) []byte {
	if bytes.HasPrefix(raw, []byte("\r\n")) {
		return raw[2:]
	}
	if bytes.HasPrefix(raw, []byte("\n")) {
		return raw[1:]
	}
	i := bytes.Index(raw, []byte("\n\r\n"))
	j := bytes.Index(raw, []byte("\n\n"))
	switch {
	case i >= 0 && (j < 0 || i < j):
		return raw[i+3:]
	case j >= 0:
		return raw[j+2:]
	}
	return nil
}

// address is one address from a header field or the envelope.
type address struct {
	local, domain string
}

func (a address) all() string {
	if a.domain == "" {
		return a.local
	}
	return a.local + "@" + a.domain
}

// parseAddresses splits an address-list leniently (RFC 5322 §3.4):
// display names, comments, groups and routes are dropped, quoted local
// parts unquoted. Unparsable entries are skipped.
func parseAddresses(s string) []address {
	var out []address
	for _, item := range splitAddressList(s) {
		if a, ok := parseOneAddress(item); ok {
			out = append(out, a)
		}
	}
	return out
}

// splitAddressList splits at top-level commas and group delimiters.
func splitAddressList(s string) []string {
	var items []string
	var cur strings.Builder
	depth, inQuote, inAngle := 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote:
			cur.WriteByte(c)
			if c == '\\' && i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			} else if c == '"' {
				inQuote = false
			}
		case depth > 0:
			if c == '\\' && i+1 < len(s) {
				i++
			} else if c == '(' {
				depth++
			} else if c == ')' {
				depth--
			}
		case c == '(':
			depth++
		case c == '"':
			inQuote = true
			cur.WriteByte(c)
		case c == '<':
			inAngle = true
			cur.WriteByte(c)
		case c == '>':
			inAngle = false
			cur.WriteByte(c)
		case (c == ',' || c == ';') && !inAngle:
			items = append(items, cur.String())
			cur.Reset()
		case c == ':' && !inAngle:
			cur.Reset() // a group's display name
		default:
			cur.WriteByte(c)
		}
	}
	items = append(items, cur.String())
	return items
}

func parseOneAddress(item string) (address, bool) {
	item = strings.TrimSpace(item)
	if i := strings.IndexByte(item, '<'); i >= 0 {
		j := strings.IndexByte(item[i:], '>')
		if j < 0 {
			item = item[i+1:]
		} else {
			item = item[i+1 : i+j]
		}
		if k := strings.LastIndexByte(item, ':'); k >= 0 && strings.HasPrefix(strings.TrimSpace(item), "@") {
			item = item[k+1:] // a source route
		}
		item = strings.TrimSpace(item)
	}
	if item == "" {
		return address{}, false
	}
	at := strings.LastIndexByte(item, '@')
	if at < 0 {
		if strings.ContainsAny(item, " \t") {
			return address{}, false
		}
		return address{local: unquoteLocal(item)}, true
	}
	local := strings.TrimSpace(item[:at])
	domain := strings.TrimSpace(item[at+1:])
	if local == "" || strings.ContainsAny(domain, " \t\"") {
		return address{}, false
	}
	return address{local: unquoteLocal(local), domain: domain}, true
}

func unquoteLocal(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		var b strings.Builder
		for i := 1; i < len(s)-1; i++ {
			if s[i] == '\\' && i+1 < len(s)-1 {
				i++
			}
			b.WriteByte(s[i])
		}
		return b.String()
	}
	return s
}

// addrPart is an address part (RFC 5228 §2.7.4, RFC 5233).
type addrPart int

const (
	partAll addrPart = iota
	partLocal
	partDomain
	partUser
	partDetail
)

// subaddressSep separates user and detail (RFC 5233 §2).
const subaddressSep = "+"

// get returns the part of a; ok is false when the part does not exist
// (no detail without a separator, RFC 5233 §4).
func (p addrPart) get(a address) (string, bool) {
	switch p {
	case partLocal:
		return a.local, true
	case partDomain:
		return a.domain, true
	case partUser:
		u, _, _ := strings.Cut(a.local, subaddressSep)
		return u, true
	case partDetail:
		_, d, ok := strings.Cut(a.local, subaddressSep)
		return d, ok
	}
	return a.all(), true
}
