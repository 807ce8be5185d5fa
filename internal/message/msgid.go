package message

import (
	"slices"
	"strings"
)

// MaxMsgIDs bounds the message ids taken from one field: a References field
// can list hundreds, and threading needs the nearest few.
const MaxMsgIDs = 100

// ParseMsgIDs returns the valid message ids of a field (References,
// In-Reply-To, Message-ID) without their angle brackets, in order, at most
// MaxMsgIDs (the last ones, nearest the message, when there are more). A
// valid id is "<" id-left "@" id-right ">" without white space (RFC 5322
// §3.6.4); ids compare case-sensitively (RFC 5256 §3).
func ParseMsgIDs(field string) []string {
	var ids []string
	for {
		i := strings.IndexByte(field, '<')
		if i < 0 {
			break
		}
		field = field[i+1:]
		j := strings.IndexAny(field, "<>")
		if j < 0 {
			break
		}
		if field[j] == '>' {
			if id := field[:j]; validMsgID(id) {
				ids = append(ids, id)
			}
			field = field[j+1:]
		}
	}
	if len(ids) > MaxMsgIDs {
		ids = ids[len(ids)-MaxMsgIDs:]
	}
	return ids
}

func validMsgID(id string) bool {
	at := strings.IndexByte(id, '@')
	return at > 0 && at < len(id)-1 && !strings.ContainsAny(id, " \t\r\n<>")
}

// HeaderValue returns the value of the first field called name (lower
// case) in decoded header lines ("Name: value" per line, as Parsed.Headers
// holds them), and whether there was one.
func HeaderValue(headers, name string) (string, bool) {
	for len(headers) > 0 {
		line := headers
		if i := strings.IndexByte(headers, '\n'); i >= 0 {
			line, headers = headers[:i], headers[i+1:]
		} else {
			headers = ""
		}
		if len(line) > len(name) && line[len(name)] == ':' && strings.EqualFold(line[:len(name)], name) {
			return strings.TrimSpace(line[len(name)+1:]), true
		}
	}
	return "", false
}

// ThreadParents returns the ids of a message's parents, oldest first: those
// of References, then In-Reply-To's when References lacks it (RFC 5256
// §2.2 takes References, else In-Reply-To).
func ThreadParents(p *Parsed) []string {
	refs, _ := HeaderValue(p.Headers, "references")
	parents := ParseMsgIDs(refs)
	if p.Envelope != nil {
		for _, id := range ParseMsgIDs(p.Envelope.InReplyTo) {
			if !slices.Contains(parents, id) {
				parents = append(parents, id)
			}
			break
		}
	}
	return parents
}
