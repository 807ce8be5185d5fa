package imapd

import "io"

// literalMinusMax is the largest non-synchronising literal LITERAL- allows
// (RFC 7888 §5; IMAP4rev2 includes LITERAL-, RFC 9051 §4.3).
const literalMinusMax = 4096

// refuseLiteralMinus answers a non-synchronising literal over the LITERAL-
// limit: BAD [TOOBIG] (RFC 7888 §5). Its bytes are on their way; a small
// one is read and dropped so the connection stays usable, a large one
// cannot be skipped at a bounded cost and the connection ends.
func (p *parser) refuseLiteralMinus(n int64) {
	if n > maxLiteralLen {
		panic(&parseError{msg: "non-synchronizing literal too large", code: "TOOBIG", fatal: true})
	}
	if _, err := io.CopyN(io.Discard, p.r, n); err != nil {
		panic(ioError{err})
	}
	panic(&parseError{msg: "non-synchronizing literal over 4096 bytes", code: "TOOBIG"})
}
