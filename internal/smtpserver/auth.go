package smtpserver

import (
	"encoding/base64"
	"errors"
	"strings"
)

// auth runs AUTH (RFC 4954 §4): the optional initial response, then
// 334 challenges until the mechanism is done; "*" cancels.
func (c *Conn) auth(arg string) {
	switch {
	case c.helo == "":
		c.protocolError(replyHelloFirst)
		return
	case c.authed:
		c.protocolError(replyAlreadyAuth)
		return
	case c.inMail:
		// RFC 4954 §4: not during a mail transaction.
		c.protocolError(replyInTransaction)
		return
	}
	as, ok := c.sess.(AuthSession)
	if !ok {
		c.protocolError(replyNoAuth)
		return
	}
	f := strings.Fields(arg)
	if len(f) == 0 || len(f) > 2 {
		c.protocolError(syntax("AUTH mechanism [initial-response]"))
		return
	}
	var response []byte
	if len(f) == 2 {
		var ok bool
		if response, ok = decodeSASL(f[1]); !ok {
			c.protocolError(replyBadBase64)
			return
		}
	}
	server, err := as.Auth(strings.ToUpper(f[0]))
	if err != nil {
		c.replyError(err)
		return
	}
	for {
		challenge, done, err := server.Next(response)
		if err != nil {
			var r *Reply
			if errors.As(err, &r) {
				c.writeReply(r)
			} else {
				c.writeReply(replyAuthFailed)
			}
			return
		}
		if done {
			break
		}
		c.writeReply(&Reply{Code: 334, Text: base64.StdEncoding.EncodeToString(challenge)})
		line, err := c.readCommand(maxAuthLine)
		if err == errLineTooLong {
			c.protocolError(replyLineTooLong)
			return
		}
		if err != nil {
			c.fatal = err
			return
		}
		if line == "*" {
			c.writeReply(replyAuthCancelled)
			return
		}
		if response, ok = decodeSASL(line); !ok {
			c.protocolError(replyBadBase64)
			return
		}
	}
	c.authed = true
	c.writeReply(replyAuthOK)
}

// decodeSASL decodes a response; "=" is the empty one (RFC 4954 §4).
func decodeSASL(s string) ([]byte, bool) {
	if s == "=" {
		return []byte{}, true
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return b, err == nil
}
