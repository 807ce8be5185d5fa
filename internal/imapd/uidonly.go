package imapd

// UIDONLY (RFC 9586): once enabled, the session never sees a message
// sequence number. Untagged FETCH responses become UIDFETCH, named by UID;
// expunges are VANISHED; commands that take or return message numbers
// are refused with BAD [UIDREQUIRED], their UID forms stay.

// fetchStart opens an untagged FETCH response: "* seq FETCH (", or
// "* uid UIDFETCH (" in a UIDONLY session.
func (s *session) fetchStart(seq, uid uint32) {
	w := &s.w
	w.str("* ")
	if s.uidOnly {
		w.num(uint64(uid))
		w.str(" UIDFETCH (")
		return
	}
	w.num(uint64(seq))
	w.str(" FETCH (")
}

// uidRequired refuses, in a UIDONLY session, a command that names
// messages by number, or a search program that does.
func (s *session) uidRequired(c *command) (reply, bool) {
	if !s.uidOnly {
		return reply{}, false
	}
	switch c.name {
	case "FETCH", "STORE", "COPY", "MOVE", "SEARCH", "SORT", "THREAD", "REPLACE":
		if !c.uid {
			return bad("UIDREQUIRED", "UIDONLY is on: use the UID form"), true
		}
	}
	if c.search != nil && usesSeqNumbers(c.search) {
		return bad("UIDREQUIRED", "UIDONLY is on: no message numbers in a search"), true
	}
	return reply{}, false
}

// usesSeqNumbers tells whether a search program names messages by number.
func usesSeqNumbers(k *searchKey) bool {
	if k.op == "SEQ" {
		return true
	}
	for _, kid := range k.kids {
		if usesSeqNumbers(kid) {
			return true
		}
	}
	return false
}
