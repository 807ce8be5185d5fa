package smtpserver

import "io"

// DATA (RFC 5321 §4.1.1.4) and BDAT (RFC 3030): the message itself.

// transactionReady checks the sequence before DATA or BDAT.
func (c *Conn) transactionReady() *Reply {
	switch {
	case c.helo == "":
		return replyHelloFirst
	case !c.inMail:
		return replyNeedMail
	case c.rcptTried == 0:
		return replyNeedRcpt
	case c.rcptOK == 0:
		return replyNoValidRcpt
	}
	return nil
}

func (c *Conn) data(arg string) {
	if arg != "" {
		c.protocolError(syntax("DATA"))
		return
	}
	if r := c.transactionReady(); r != nil {
		if r == replyNoValidRcpt {
			c.writeReply(r)
			return
		}
		c.protocolError(r)
		return
	}
	c.writeReply(&Reply{Code: 354, Text: "Start mail input; end with <CRLF>.<CRLF>"})
	c.startData()
	r := newDotReader(c.br, c.srv.cfg.MaxMessageBytes)
	err := c.sess.Data(r)
	if derr := r.drain(); derr != nil {
		c.fatal = derr
		return
	}
	c.endMessage(err, r.tooLarge)
}

// endMessage answers the end of a message and ends the transaction. The
// reply is flushed before the Session hears the transaction is over, so
// that a shutdown waiting for it cannot cut the reply off.
func (c *Conn) endMessage(err error, tooLarge bool) {
	switch {
	case tooLarge:
		c.writeReply(ErrDataTooLarge)
	case err == nil:
		c.writeReply(replyOK)
	default:
		c.replyError(err)
	}
	if ferr := c.bw.Flush(); ferr != nil {
		c.fatal = ferr
	}
	c.resetTransaction()
}

func (c *Conn) bdat(arg string) {
	size, last, sizeOK, ok := parseBDAT(arg)
	if !ok {
		if sizeOK {
			c.discard(size)
		}
		c.protocolError(syntax("BDAT chunk-size [LAST]"))
		return
	}
	if r := c.transactionReady(); r != nil {
		c.discard(size)
		if r == replyNoValidRcpt {
			c.writeReply(r)
			return
		}
		c.protocolError(r)
		return
	}
	if limit := c.srv.cfg.MaxMessageBytes; limit > 0 && size > limit {
		c.discard(size)
		c.writeReply(replyMaxSize)
		c.resetTransaction()
		return
	}
	c.startData()
	r := &chunkReader{c: c, left: size, last: last, total: size}
	err := c.sess.Data(r)
	if err == nil && !r.tooLarge && r.err == nil {
		// A Session that returned early: the rest still comes off the wire.
		io.Copy(io.Discard, r)
	}
	switch {
	case c.fatal != nil:
		return
	case r.pending != "":
		// The client gave the message up: no reply for it, and the command
		// that ended it runs now.
		c.resetTransaction()
		c.dispatch(r.pending)
		return
	case r.err == ErrDataReset:
		c.resetTransaction()
		return
	}
	if !r.tooLarge && r.left > 0 {
		c.discard(r.left)
		if c.fatal != nil {
			return
		}
	}
	c.endMessage(err, r.tooLarge)
}
