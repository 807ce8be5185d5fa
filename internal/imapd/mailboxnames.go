package imapd

import "postern/internal/mutf7"

// decodeNames converts the mailbox names of a command from an IMAP4rev1
// client; a name that is not valid modified UTF-7 is taken as it is.
func (s *session) decodeNames(c *command) {
	if s.rev2 || s.utf8 {
		return
	}
	dec := func(p *string) bool {
		d, err := mutf7.Decode(*p)
		if err == nil {
			*p = d
		}
		return err == nil
	}
	// A name to create must be valid; one to look up is taken as it is.
	c.badUTF7 = !dec(&c.mailbox) || !dec(&c.mailbox2)
	dec(&c.list.ref)
	for i := range c.list.patterns {
		dec(&c.list.patterns[i])
	}
}

// mailboxOut is how a stored name is shown to this session.
func (s *session) mailboxOut(name string) string {
	if s.rev2 || s.utf8 {
		return name
	}
	return mutf7.Encode(name)
}
