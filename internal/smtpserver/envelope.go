package smtpserver

import (
	"fmt"
	"strconv"
	"strings"
)

// MAIL and RCPT (RFC 5321 §4.1.1.2, §4.1.1.3) with the parameters of the
// extensions offered.

func (c *Conn) mail(arg string) {
	switch {
	case c.helo == "":
		c.protocolError(replyHelloFirst)
		return
	case c.inMail:
		c.protocolError(replyNestedMail)
		return
	}
	rest, ok := cutPrefixFold(arg, "FROM:")
	if !ok {
		c.protocolError(syntax("MAIL FROM:<address> [parameters]"))
		return
	}
	from, rest, ok := parsePath(rest, true)
	if !ok {
		c.protocolError(replyBadSenderSyntax)
		return
	}
	opts, r := c.mailOptions(rest)
	if r != nil {
		if r.Code == 552 {
			c.writeReply(r) // a refusal, not a protocol error
			return
		}
		c.protocolError(r)
		return
	}
	if err := c.sess.Mail(from, opts); err != nil {
		c.replyError(err)
		return
	}
	c.inMail, c.rcptTried, c.rcptOK = true, 0, 0
	c.writeReply(NewReply(250, 2, 1, 0, "Sender OK"))
}

func (c *Conn) mailOptions(s string) (*MailOptions, *Reply) {
	params, r := parseParams(s)
	if r != nil {
		return nil, r
	}
	cfg := &c.srv.cfg
	opts := &MailOptions{}
	for _, p := range params {
		v := p.value
		switch {
		case p.key == "SIZE":
			if !digits(v) || len(v) > 18 {
				return nil, syntax("SIZE=octets")
			}
			opts.Size, _ = strconv.ParseInt(v, 10, 64)
			if cfg.MaxMessageBytes > 0 && opts.Size > cfg.MaxMessageBytes {
				return nil, replyMaxSize
			}
		case p.key == "BODY":
			switch strings.ToUpper(v) {
			case "7BIT", "8BITMIME":
				opts.Body = strings.ToUpper(v)
			case "BINARYMIME":
				return nil, replyUnknownParameter // RFC 3030 BINARYMIME is not offered
			default:
				return nil, syntax("BODY=7BIT or BODY=8BITMIME")
			}
		case p.key == "SMTPUTF8" && cfg.SMTPUTF8 && v == "":
			opts.UTF8 = true
		case p.key == "REQUIRETLS" && cfg.REQUIRETLS && v == "":
			// RFC 8689 §4.1: refused on a clear-text session by the Session,
			// which knows what to say.
			opts.RequireTLS = true
		case p.key == "RET" && cfg.DSN:
			switch strings.ToUpper(v) {
			case "FULL", "HDRS":
				opts.Return = strings.ToUpper(v)
			default:
				return nil, syntax("RET=FULL or RET=HDRS")
			}
		case p.key == "ENVID" && cfg.DSN:
			id, ok := decodeXtext(v)
			if !ok || id == "" || len(id) > 100 || !printableASCII(id) {
				return nil, syntax("ENVID=xtext of at most 100 characters")
			}
			opts.EnvelopeID = id
		case p.key == "AUTH":
			// RFC 4954 §5: the mailbox that submitted the message; kept, not
			// trusted.
			a, ok := decodeXtext(v)
			mailbox := ""
			if ok && a != "<>" {
				var rest string
				mailbox, rest, ok = parsePath(a, false)
				ok = ok && rest == ""
			}
			if !ok {
				return nil, syntax("AUTH=<> or AUTH=xtext-mailbox")
			}
			opts.Auth = &mailbox
		default:
			return nil, replyUnknownParameter
		}
	}
	return opts, nil
}

func (c *Conn) rcpt(arg string) {
	switch {
	case c.helo == "":
		c.protocolError(replyHelloFirst)
		return
	case !c.inMail:
		c.protocolError(replyNeedMail)
		return
	}
	path, ok := cutPrefixFold(arg, "TO:")
	if !ok {
		c.protocolError(syntax("RCPT TO:<address> [parameters]"))
		return
	}
	to, rest, ok := parsePath(path, false)
	if !ok {
		// RFC 5321 §4.1.1.3: "<Postmaster>" without a domain is accepted;
		// the Session says whose it is.
		to, rest, ok = cutPostmaster(path)
	}
	if !ok {
		c.protocolError(replyBadRcptSyntax)
		return
	}
	opts, r := c.rcptOptions(rest)
	if r != nil {
		c.protocolError(r)
		return
	}
	c.rcptTried++
	if limit := c.srv.cfg.MaxRecipients; limit > 0 && c.rcptOK >= limit {
		// RFC 5321 §4.5.3.1.10: the client sends the rest later.
		c.writeReply(NewReply(452, 4, 5, 3, fmt.Sprintf("Maximum limit of %d recipients reached", limit)))
		return
	}
	if err := c.sess.Rcpt(to, opts); err != nil {
		c.replyError(err)
		return
	}
	c.rcptOK++
	c.writeReply(NewReply(250, 2, 1, 5, "Recipient OK"))
}

// cutPostmaster reads "<Postmaster>", any case, at the start of s.
func cutPostmaster(s string) (mailbox, rest string, ok bool) {
	s = strings.TrimLeft(s, " ")
	const p = "<postmaster>"
	if len(s) < len(p) || !strings.EqualFold(s[:len(p)], p) || (len(s) > len(p) && s[len(p)] != ' ') {
		return "", "", false
	}
	return "postmaster", s[len(p):], true
}

func (c *Conn) rcptOptions(s string) (*RcptOptions, *Reply) {
	params, r := parseParams(s)
	if r != nil {
		return nil, r
	}
	opts := &RcptOptions{}
	for _, p := range params {
		switch {
		case p.key == "NOTIFY" && c.srv.cfg.DSN:
			if opts.Notify = parseNotify(p.value); opts.Notify == nil {
				return nil, syntax("NOTIFY=NEVER or NOTIFY=SUCCESS,FAILURE,DELAY")
			}
		case p.key == "ORCPT" && c.srv.cfg.DSN:
			typ, addr, ok := parseORCPT(p.value)
			if !ok {
				return nil, syntax("ORCPT=rfc822;xtext-address")
			}
			opts.OriginalRecipientType, opts.OriginalRecipient = typ, addr
		default:
			return nil, replyUnknownParameter
		}
	}
	return opts, nil
}

// parseNotify reads the NOTIFY list (RFC 3461 §4.1); nil when invalid.
func parseNotify(v string) []string {
	var out []string
	for _, n := range strings.Split(strings.ToUpper(v), ",") {
		switch n {
		case "NEVER", "SUCCESS", "FAILURE", "DELAY":
		default:
			return nil
		}
		for _, seen := range out {
			if seen == n {
				return nil
			}
		}
		out = append(out, n)
	}
	for _, n := range out {
		if n == "NEVER" && len(out) > 1 {
			return nil
		}
	}
	return out
}

// parseORCPT reads addr-type ";" xtext (RFC 3461 §4.2, RFC 6533 §3).
func parseORCPT(v string) (typ, addr string, ok bool) {
	typ, raw, found := strings.Cut(v, ";")
	if !found || raw == "" || len(raw) > 500 {
		return "", "", false
	}
	switch typ = strings.ToUpper(typ); typ {
	case "RFC822":
		addr, ok = decodeXtext(raw)
		ok = ok && printableASCII(addr)
	case "UTF-8":
		addr, ok = decodeUTF8Xtext(raw)
	}
	return typ, addr, ok && addr != ""
}
