package imapd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits of the command parser. Every byte of a command comes from an
// unauthenticated peer, so each dimension is bounded.
const (
	maxLineLen     = 64 << 10  // bytes of one command line, literals excluded
	maxLiteralLen  = 64 << 10  // literal outside APPEND
	maxListDepth   = 16        // nesting of parenthesised lists and search groups
	maxListItems   = 1024      // items in one parenthesised list
	maxSearchKeys  = 512       // search keys in one SEARCH
	maxSeqRanges   = 4096      // ranges in one sequence set
	maxLiteralAtom = 20        // digits in a literal length or number
	maxCmdLiterals = 256 << 10 // all literals of one command outside APPEND
)

// parseError is a syntax error of one command. The connection stays usable
// unless fatal is set, in which case the parser cannot find where the next
// command begins (RFC 7888 §4: an oversized non-synchronising literal).
type parseError struct {
	msg   string
	code  string // response code, e.g. "TOOBIG"
	fatal bool
	// lineDone is set when the error came at a refused synchronising
	// literal: the client sends nothing more of this command.
	lineDone bool
}

func (e *parseError) Error() string { return e.msg }

// ioError wraps a read failure of the connection; the session ends.
type ioError struct{ err error }

func (e ioError) Error() string { return e.err.Error() }

// parser reads one command at a time from the connection. Literals are read
// as they come: a synchronising literal gets a continuation request through
// cont only once the parser has decided to accept it (RFC 9051 §4.3).
type parser struct {
	r      *bufio.Reader
	cont   func() error // sends "+ Ready"; nil means never ask (fuzzing)
	line   int          // bytes of the current line read so far
	litMax int64        // literal limit for the current argument
	litSum int64        // literal bytes accepted in the current command

	// literalMinus limits non-synchronising literals to 4096 bytes
	// (RFC 7888 §5, LITERAL-); the session sets it before login.
	literalMinus bool
}

func newParser(r *bufio.Reader, cont func() error) *parser {
	return &parser{r: r, cont: cont, litMax: maxLiteralLen}
}

// fail aborts parsing of the current command; recovered in parseCommand.
func (p *parser) fail(format string, args ...any) {
	panic(&parseError{msg: fmt.Sprintf(format, args...)})
}

func (p *parser) peek() byte {
	b, err := p.r.Peek(1)
	if err != nil {
		panic(ioError{err})
	}
	return b[0]
}

// peekAt returns the byte i positions ahead without reading it.
func (p *parser) peekAt(i int) byte {
	b, err := p.r.Peek(i + 1)
	if err != nil {
		panic(ioError{err})
	}
	return b[i]
}

func (p *parser) next() byte {
	c, err := p.r.ReadByte()
	if err != nil {
		panic(ioError{err})
	}
	p.line++
	if p.line > maxLineLen {
		panic(&parseError{msg: "line too long", code: "TOOBIG"})
	}
	return c
}

func (p *parser) expect(c byte) {
	if got := p.peek(); got != c {
		p.fail("expected %q, got %q", c, got)
	}
	p.next()
}

func (p *parser) sp() { p.expect(' ') }

// crlf ends a command. A bare LF is tolerated: some clients send it.
func (p *parser) crlf() {
	c := p.next()
	if c == '\r' {
		c = p.next()
	}
	if c != '\n' {
		p.fail("expected end of line")
	}
	p.line = 0
}

func (p *parser) atEOL() bool {
	c := p.peek()
	return c == '\r' || c == '\n'
}

// skipLine discards the rest of a bad command, including the bytes of any
// non-synchronising literal that ends a discarded line, so that the next
// command is read from its start. Synchronising literals were never asked
// for, so the client does not send them.
// A loop, not recursion, with a bounded number of literals: a client
// chaining "{0+}" lines must not grow the stack without end.
func (p *parser) skipLine() error {
	for range maxListItems {
		n, more, err := p.skipToLiteral()
		if err != nil || !more {
			return err
		}
		if n > p.litMax {
			return errors.New("oversized literal in bad command")
		}
		if _, err := io.CopyN(io.Discard, p.r, n); err != nil {
			return err
		}
	}
	return errors.New("too many literals in bad command")
}

// skipToLiteral reads to the end of a line; more tells whether the line
// ended with a non-synchronising literal header, of n bytes.
func (p *parser) skipToLiteral() (n int64, more bool, err error) {
	var tail []byte
	for {
		c, err := p.r.ReadByte()
		if err != nil {
			return 0, false, err
		}
		if c == '\n' {
			break
		}
		if c == '{' {
			tail = tail[:0]
		}
		if len(tail) < 32 {
			tail = append(tail, c)
		}
	}
	p.line = 0
	s := strings.TrimSuffix(string(tail), "\r")
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "+}") {
		return 0, false, nil
	}
	n, err = strconv.ParseInt(s[1:len(s)-2], 10, 64)
	if err != nil || n < 0 {
		return 0, false, nil
	}
	return n, true, nil
}

// RFC 9051 §9: atom-specials are ( ) { SP CTL list-wildcards quoted-specials
// resp-specials.
func isAtomChar(c byte) bool {
	if c <= 0x20 || c >= 0x7f {
		return false
	}
	switch c {
	case '(', ')', '{', '%', '*', '"', '\\', ']':
		return false
	}
	return true
}

// ASTRING-CHAR = ATOM-CHAR / resp-specials
func isAstringChar(c byte) bool { return isAtomChar(c) || c == ']' }

// list-char = ATOM-CHAR / list-wildcards / resp-specials
func isListChar(c byte) bool { return isAstringChar(c) || c == '%' || c == '*' }

func (p *parser) takeWhile(ok func(byte) bool) string {
	var b strings.Builder
	for {
		c := p.peek()
		if !ok(c) {
			break
		}
		b.WriteByte(p.next())
	}
	return b.String()
}

func (p *parser) atom() string {
	s := p.takeWhile(isAtomChar)
	if s == "" {
		p.fail("expected atom")
	}
	return s
}

// tag = 1*<any ASTRING-CHAR except "+">
func (p *parser) tag() string {
	s := p.takeWhile(func(c byte) bool { return isAstringChar(c) && c != '+' })
	if s == "" {
		p.fail("expected tag")
	}
	return s
}

func (p *parser) number() uint32 {
	n := p.number64()
	if n > 0xffffffff {
		p.fail("number too large")
	}
	return uint32(n)
}

func (p *parser) number64() uint64 {
	s := p.takeWhile(func(c byte) bool { return c >= '0' && c <= '9' })
	if s == "" || len(s) > maxLiteralAtom {
		p.fail("expected number")
	}
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		p.fail("bad number")
	}
	return n
}

func (p *parser) quoted() string {
	p.expect('"')
	var b strings.Builder
	for {
		c := p.next()
		switch c {
		case '"':
			return b.String()
		case '\\':
			c = p.next()
			if c != '"' && c != '\\' {
				p.fail("bad escape in quoted string")
			}
		case '\r', '\n', 0:
			p.fail("bad character in quoted string")
		}
		b.WriteByte(c)
	}
}

// literalHeader reads "{n}" or "{n+}" and the CRLF after it.
func (p *parser) literalHeader() (n int64, nonSync bool) {
	p.expect('{')
	n = int64(p.number64())
	if p.peek() == '+' {
		p.next()
		nonSync = true
	}
	p.expect('}')
	p.crlf()
	if nonSync && p.literalMinus && n > literalMinusMax {
		p.refuseLiteralMinus(n)
	}
	return n, nonSync
}

// acceptLiteral applies the size limit and asks for a synchronising
// literal's bytes. An oversized non-synchronising literal is already on its
// way and cannot be skipped safely: RFC 7888 §4 lets the server close.
func (p *parser) acceptLiteral(n int64, nonSync bool, limit int64) {
	if n > limit || p.litSum+n > maxCmdLiterals {
		panic(&parseError{msg: "literal too large", code: "TOOBIG", fatal: nonSync, lineDone: !nonSync})
	}
	p.litSum += n
	if !nonSync && p.cont != nil {
		if err := p.cont(); err != nil {
			panic(ioError{err})
		}
	}
}

func (p *parser) literal() string {
	n, nonSync := p.literalHeader()
	p.acceptLiteral(n, nonSync, p.litMax)
	buf := make([]byte, n)
	if _, err := io.ReadFull(p.r, buf); err != nil {
		panic(ioError{err})
	}
	return string(buf)
}

func (p *parser) str() string {
	switch p.peek() {
	case '"':
		return p.quoted()
	case '{':
		return p.literal()
	}
	p.fail("expected string")
	return ""
}

func (p *parser) astring() string {
	switch p.peek() {
	case '"', '{':
		return p.str()
	}
	s := p.takeWhile(isAstringChar)
	if s == "" {
		p.fail("expected astring")
	}
	return s
}

// mailbox names: INBOX is case-insensitive (RFC 9051 §5.1).
func (p *parser) mailbox() string {
	return canonMailbox(p.astring())
}

func canonMailbox(s string) string {
	if strings.EqualFold(s, "INBOX") {
		return "INBOX"
	}
	if len(s) > 6 && strings.EqualFold(s[:6], "INBOX/") {
		return "INBOX" + s[5:]
	}
	return s
}

// listMailbox = 1*list-char / string
func (p *parser) listMailbox() string {
	switch p.peek() {
	case '"', '{':
		return p.str()
	}
	s := p.takeWhile(isListChar)
	if s == "" {
		p.fail("expected mailbox pattern")
	}
	return s
}

// list parses "(" item *(SP item) ")" calling item for each; empty lists
// are allowed when empty is set.
func (p *parser) list(empty bool, item func()) {
	p.expect('(')
	if p.peek() == ')' {
		if !empty {
			p.fail("empty list")
		}
		p.next()
		return
	}
	for i := 0; ; i++ {
		if i >= maxListItems {
			p.fail("too many list items")
		}
		item()
		if p.peek() == ')' {
			p.next()
			return
		}
		p.sp()
	}
}

// flag = "\" atom / atom; "\*" only in PERMANENTFLAGS, never from clients.
func (p *parser) flag() string {
	if p.peek() == '\\' {
		p.next()
		return `\` + p.atom()
	}
	return p.atom()
}

func (p *parser) flagList() []string {
	var out []string
	p.list(true, func() { out = append(out, p.flag()) })
	return out
}
