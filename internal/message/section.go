package message

// Find returns the part named by an IMAP section part number (RFC 3501
// §6.4.5, RFC 9051 §6.4.5), such as [1 2] for "1.2", starting from the
// top-level entity p; nil when there is no such part. An empty path names
// the message itself.
//
// The numbering rules: the parts of a multipart are numbered from 1; a
// message that is not multipart has one part, numbered 1, which is its
// body; and the parts of a message/rfc822 part are the parts of the
// message it encapsulates. For the HEADER of a message/rfc822 part use
// its Message's [HeaderStart, BodyStart); for MIME use the part's own.
func (p *Part) Find(path []int) *Part {
	if len(path) == 0 {
		return p
	}
	cur := messagePart(p, path[0])
	for _, n := range path[1:] {
		if cur == nil {
			return nil
		}
		switch {
		case cur.IsMultipart():
			cur = child(cur, n)
		case cur.Message != nil:
			cur = messagePart(cur.Message, n)
		default:
			return nil
		}
	}
	return cur
}

// messagePart is part n of a message entity.
func messagePart(msg *Part, n int) *Part {
	if msg.IsMultipart() {
		return child(msg, n)
	}
	if n == 1 {
		return msg
	}
	return nil
}

func child(p *Part, n int) *Part {
	if n < 1 || n > len(p.Children) {
		return nil
	}
	return p.Children[n-1]
}
