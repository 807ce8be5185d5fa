package sieve

import (
	"strings"
)

// tokKind is the kind of a lexical token (RFC 5228 §8.1).
type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tTag
	tNumber
	tString // quoted-string or multi-line, already unescaped
	tLBracket
	tRBracket
	tLParen
	tRParen
	tLBrace
	tRBrace
	tComma
	tSemicolon
)

var tokNames = [...]string{
	tEOF: "end of script", tIdent: "identifier", tTag: "tag", tNumber: "number",
	tString: "string", tLBracket: "'['", tRBracket: "']'", tLParen: "'('",
	tRParen: "')'", tLBrace: "'{'", tRBrace: "'}'", tComma: "','", tSemicolon: "';'",
}

func (k tokKind) String() string { return tokNames[k] }

type token struct {
	kind tokKind
	pos  pos
	text string // identifier (lower-cased), tag name without ':' (lower-cased), string value
	num  int64
}

// maxNumber bounds Sieve numbers; RFC 5228 §2.4.1 asks for at least
// 2^31-1, we keep 63 bits.
const maxNumber = 1<<63 - 1

// lexer splits a script into tokens. It never reads past src and every
// loop advances, so hostile input cannot make it loop.
type lexer struct {
	src  string
	off  int
	line int
	col  int // column of src[off], 1-based
}

func newLexer(src string) *lexer { return &lexer{src: src, line: 1, col: 1} }

func (l *lexer) here() pos { return pos{l.line, l.col} }

// advance moves over n bytes, tracking lines.
func (l *lexer) advance(n int) {
	for i := 0; i < n && l.off < len(l.src); i++ {
		if l.src[l.off] == '\n' {
			l.line++
			l.col = 1
		} else {
			l.col++
		}
		l.off++
	}
}

// skipSpace skips white space and comments.
func (l *lexer) skipSpace() *Error {
	for l.off < len(l.src) {
		c := l.src[l.off]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			l.advance(1)
		case c == '#':
			end := strings.IndexByte(l.src[l.off:], '\n')
			if end < 0 {
				end = len(l.src) - l.off
			}
			l.advance(end)
		case c == '/' && l.off+1 < len(l.src) && l.src[l.off+1] == '*':
			p := l.here()
			end := strings.Index(l.src[l.off+2:], "*/")
			if end < 0 {
				return errAt(p, "unterminated comment")
			}
			l.advance(end + 4)
		default:
			return nil
		}
	}
	return nil
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// next returns the next token.
func (l *lexer) next() (token, *Error) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	p := l.here()
	if l.off >= len(l.src) {
		return token{kind: tEOF, pos: p}, nil
	}
	c := l.src[l.off]
	switch c {
	case '[':
		l.advance(1)
		return token{kind: tLBracket, pos: p}, nil
	case ']':
		l.advance(1)
		return token{kind: tRBracket, pos: p}, nil
	case '(':
		l.advance(1)
		return token{kind: tLParen, pos: p}, nil
	case ')':
		l.advance(1)
		return token{kind: tRParen, pos: p}, nil
	case '{':
		l.advance(1)
		return token{kind: tLBrace, pos: p}, nil
	case '}':
		l.advance(1)
		return token{kind: tRBrace, pos: p}, nil
	case ',':
		l.advance(1)
		return token{kind: tComma, pos: p}, nil
	case ';':
		l.advance(1)
		return token{kind: tSemicolon, pos: p}, nil
	case '"':
		return l.quoted(p)
	case ':':
		l.advance(1)
		if l.off >= len(l.src) || !isAlpha(l.src[l.off]) {
			return token{}, errAt(p, "expected a tag name after ':'")
		}
		return token{kind: tTag, pos: p, text: l.ident()}, nil
	}
	if isDigit(c) {
		return l.number(p)
	}
	if isAlpha(c) {
		id := l.ident()
		if id == "text" && l.off < len(l.src) && l.src[l.off] == ':' {
			l.advance(1)
			return l.multiline(p)
		}
		return token{kind: tIdent, pos: p, text: id}, nil
	}
	return token{}, errAt(p, "unexpected character %q", c)
}

func (l *lexer) ident() string {
	start := l.off
	for l.off < len(l.src) && (isAlpha(l.src[l.off]) || isDigit(l.src[l.off])) {
		l.advance(1)
	}
	return strings.ToLower(l.src[start:l.off])
}

func (l *lexer) number(p pos) (token, *Error) {
	var n int64
	for l.off < len(l.src) && isDigit(l.src[l.off]) {
		d := int64(l.src[l.off] - '0')
		if n > (maxNumber-d)/10 {
			return token{}, errAt(p, "number too large")
		}
		n = n*10 + d
		l.advance(1)
	}
	if l.off < len(l.src) {
		var mul int64
		switch l.src[l.off] {
		case 'K', 'k':
			mul = 1 << 10
		case 'M', 'm':
			mul = 1 << 20
		case 'G', 'g':
			mul = 1 << 30
		}
		if mul != 0 {
			if n > maxNumber/mul {
				return token{}, errAt(p, "number too large")
			}
			n *= mul
			l.advance(1)
		}
	}
	if l.off < len(l.src) && (isAlpha(l.src[l.off]) || isDigit(l.src[l.off])) {
		return token{}, errAt(l.here(), "unexpected character %q after number", l.src[l.off])
	}
	return token{kind: tNumber, pos: p, num: n}, nil
}

// quoted reads a quoted-string (RFC 5228 §2.4.2): backslash quotes the
// next character, whatever it is.
func (l *lexer) quoted(p pos) (token, *Error) {
	l.advance(1)
	var b strings.Builder
	for {
		if l.off >= len(l.src) {
			return token{}, errAt(p, "unterminated string")
		}
		i := strings.IndexAny(l.src[l.off:], "\"\\")
		if i < 0 {
			return token{}, errAt(p, "unterminated string")
		}
		b.WriteString(l.src[l.off : l.off+i])
		l.advance(i)
		if l.src[l.off] == '"' {
			l.advance(1)
			return token{kind: tString, pos: p, text: b.String()}, nil
		}
		if l.off+1 >= len(l.src) {
			return token{}, errAt(p, "unterminated string")
		}
		b.WriteByte(l.src[l.off+1])
		l.advance(2)
	}
}

// multiline reads a multi-line string after "text:" (RFC 5228 §2.4.2):
// the rest of the line is blanks and an optional hash comment; lines
// follow up to a line holding only "."; a leading ".." is unstuffed.
func (l *lexer) multiline(p pos) (token, *Error) {
	for l.off < len(l.src) && (l.src[l.off] == ' ' || l.src[l.off] == '\t') {
		l.advance(1)
	}
	if l.off < len(l.src) && l.src[l.off] == '#' {
		for l.off < len(l.src) && l.src[l.off] != '\n' {
			l.advance(1)
		}
	}
	if l.off < len(l.src) && l.src[l.off] == '\r' {
		l.advance(1)
	}
	if l.off >= len(l.src) || l.src[l.off] != '\n' {
		return token{}, errAt(p, "expected end of line after \"text:\"")
	}
	l.advance(1)
	var b strings.Builder
	for {
		if l.off >= len(l.src) {
			return token{}, errAt(p, "unterminated multi-line string")
		}
		end := strings.IndexByte(l.src[l.off:], '\n')
		var line string
		if end < 0 {
			line = l.src[l.off:]
			end = len(line)
		} else {
			line = l.src[l.off : l.off+end]
			end++
		}
		content := strings.TrimSuffix(line, "\r")
		if content == "." {
			l.advance(end)
			return token{kind: tString, pos: p, text: b.String()}, nil
		}
		if end == len(line) && !strings.HasSuffix(l.src, "\n") {
			return token{}, errAt(p, "unterminated multi-line string")
		}
		if strings.HasPrefix(content, ".") {
			content = content[1:]
		}
		b.WriteString(content)
		b.WriteString("\r\n")
		l.advance(end)
	}
}
