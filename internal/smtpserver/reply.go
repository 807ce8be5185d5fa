package smtpserver

import (
	"errors"
	"strconv"
)

// Reply is one SMTP reply: the code (RFC 5321 §4.2), the enhanced status
// code (RFC 3463, written on every 2xx, 4xx and 5xx reply as RFC 2034
// asks) and the text. It is an error so a Session can return it; a Reply
// with a 2xx code returned from Data is the success reply.
type Reply struct {
	Code int
	// Enhanced is class, subject and detail; all zero means X.0.0 of the
	// code's class.
	Enhanced [3]int
	Text     string
}

// NewReply builds a Reply.
func NewReply(code, class, subject, detail int, text string) *Reply {
	return &Reply{Code: code, Enhanced: [3]int{class, subject, detail}, Text: text}
}

func (r *Reply) Error() string { return string(r.appendLine(nil, ' ')) }

// appendLine appends the reply's line without its CRLF; sep is ' ' for
// the last line of a reply and '-' for the others.
func (r *Reply) appendLine(b []byte, sep byte) []byte {
	b = strconv.AppendInt(b, int64(r.Code), 10)
	b = append(b, sep)
	if class := r.Code / 100; class == 2 || class == 4 || class == 5 {
		e := r.Enhanced
		if e == [3]int{} {
			e = [3]int{class, 0, 0}
		}
		b = strconv.AppendInt(b, int64(e[0]), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(e[1]), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(e[2]), 10)
		b = append(b, ' ')
	}
	return append(b, r.Text...)
}

var (
	// ErrDataTooLarge is what the message reader returns once the message
	// passes the configured size; the client hears it after the end of
	// the data (RFC 5321 §4.5.3.1.7, RFC 1870 §6.3).
	ErrDataTooLarge = NewReply(552, 5, 3, 4, "Maximum message size exceeded")
	// ErrDataReset is what the BDAT reader returns when the client gives
	// up on the message (RSET, QUIT, a new EHLO) before BDAT LAST.
	ErrDataReset = errors.New("smtpserver: message transfer aborted by the client")
)

// The replies of the protocol layer itself. Out-of-sequence commands are
// 503 5.5.1 (RFC 5321 §4.3.2, RFC 3463 "invalid command").
var (
	replyHelloFirst       = NewReply(503, 5, 5, 1, "Send EHLO or HELO first")
	replyNeedMail         = NewReply(503, 5, 5, 1, "Need MAIL command")
	replyNeedRcpt         = NewReply(503, 5, 5, 1, "Need RCPT command")
	replyNestedMail       = NewReply(503, 5, 5, 1, "Nested MAIL command")
	replyNoValidRcpt      = NewReply(554, 5, 5, 1, "No valid recipients")
	replyInTransaction    = NewReply(503, 5, 5, 1, "Not allowed during a mail transaction")
	replyInBDAT           = NewReply(503, 5, 5, 1, "Only BDAT, RSET, NOOP or QUIT during a BDAT transfer")
	replyAlreadyTLS       = NewReply(503, 5, 5, 1, "Already running TLS")
	replyAlreadyAuth      = NewReply(503, 5, 5, 1, "Already authenticated")
	replyNoTLS            = NewReply(454, 4, 7, 0, "TLS not available")
	replyNoAuth           = NewReply(502, 5, 5, 1, "AUTH not available")
	replyUnrecognized     = NewReply(500, 5, 5, 2, "Command unrecognized")
	replyNotImplemented   = NewReply(502, 5, 5, 1, "Command not implemented")
	replyLineTooLong      = NewReply(500, 5, 5, 2, "Line too long")
	replyTooManyErrors    = NewReply(421, 4, 7, 0, "Too many errors, closing connection")
	replyIdleTimeout      = NewReply(421, 4, 4, 2, "Idle timeout, closing connection")
	replyInternal         = NewReply(421, 4, 3, 0, "Internal error, closing connection")
	replyLocalError       = NewReply(451, 4, 3, 0, "Local error in processing, try again later")
	replyMaxSize          = NewReply(552, 5, 3, 4, "Max message size exceeded")
	replyBadBase64        = NewReply(501, 5, 5, 2, "Invalid base64 data")
	replyAuthCancelled    = NewReply(501, 5, 0, 0, "Negotiation cancelled")
	replyAuthFailed       = NewReply(535, 5, 7, 8, "Authentication credentials invalid")
	replyAuthOK           = NewReply(235, 2, 7, 0, "Authentication succeeded")
	replyBadSenderSyntax  = NewReply(501, 5, 1, 7, "Bad sender address syntax")
	replyBadRcptSyntax    = NewReply(501, 5, 1, 3, "Bad recipient address syntax")
	replyUnknownParameter = NewReply(555, 5, 5, 4, "Parameter not recognized or not implemented")
	replyDuplicateParam   = NewReply(501, 5, 5, 4, "Duplicate parameter")
	replyOK               = NewReply(250, 2, 0, 0, "OK")
)

// syntax is the 501 5.5.4 reply showing the command's syntax.
func syntax(usage string) *Reply { return NewReply(501, 5, 5, 4, "Syntax: "+usage) }
