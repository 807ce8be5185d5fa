package managesieve

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// Limits of what a client may send.
const (
	// maxLine bounds the octets of one command outside its literals,
	// CRLF included. Quoted strings live inside it, so it also bounds them
	// (RFC 5804 §4 limits quoted strings to 1024 octets; we are lenient).
	maxLine = 8 << 10
	// maxArgs bounds the arguments of one command; none takes more than two.
	maxArgs = 4
	// maxSASLLiteral bounds a SASL response sent as a literal.
	maxSASLLiteral = 16 << 10
	// minDiscard is the least a too-large literal may be that the server
	// still reads and throws away to stay in step; beyond the discard
	// limit (the larger of this and 4 × MaxScriptSize) the session ends.
	minDiscard = 16 << 20
)

type argKind int

const (
	argAtom argKind = iota
	argQuoted
	argLiteral
)

// arg is one argument of a command.
type arg struct {
	kind argKind
	val  []byte
}

// isString reports whether the argument is a string (RFC 5804 §4: quoted
// or literal), as opposed to an atom or number.
func (a arg) isString() bool { return a.kind != argAtom }

// command is one parsed command.
type command struct {
	// Name is the command keyword in upper case.
	Name string
	Args []arg
}

// parseError is a command the server could not read. The reader has
// already skipped what is left of it, unless fatal: then the session
// cannot find the start of the next command and must end.
type parseError struct {
	msg   string
	code  string // response code, e.g. "QUOTA/MAXSIZE"
	fatal bool
}

func (e *parseError) Error() string { return e.msg }

func syntaxErr(msg string) *parseError { return &parseError{msg: msg} }

var errLineTooLong = &parseError{msg: "Line too long"}

// reader reads commands from a client, one at a time, with their literals.
// Memory held is bounded by maxLine plus the literal limit, and grows only
// as octets arrive, so a client that announces a large literal and sends
// nothing costs nothing.
type reader struct {
	r *bufio.Reader
	// maxLiteral is the total of literal octets one command may carry.
	maxLiteral int64
	// maxDiscard is how much of a too-large command is read and discarded
	// before giving up on the session.
	maxDiscard int64
	// arm, if set, is called before a literal's octets are read (to give
	// them a fresh deadline).
	arm func() error

	n   int   // line octets read in this command
	lit int64 // literal octets read in this command
	eol bool  // the command's final LF has been read
}

func newReader(r *bufio.Reader, maxLiteral int64) *reader {
	return &reader{r: r, maxLiteral: maxLiteral, maxDiscard: max(minDiscard, 4*maxLiteral)}
}

// readCommand reads one command: an atom, then arguments separated by
// spaces, each an atom, a quoted string or a literal ("{n+}" or "{n}",
// both read at once: RFC 5804 §4 has only non-synchronizing literals from
// the client, and like Pigeonhole we take "{n}" as one too). A parse error
// comes back as *parseError after the rest of the command was skipped;
// other errors are the connection's.
func (p *reader) readCommand() (command, error) {
	args, err := p.readLine(p.maxLiteral)
	if err != nil {
		return command{}, err
	}
	if len(args) == 0 {
		return command{}, syntaxErr("Empty command")
	}
	if args[0].kind != argAtom {
		return command{}, syntaxErr("Expected a command name")
	}
	return command{Name: strings.ToUpper(string(args[0].val)), Args: args[1:]}, nil
}

// readContinuation reads a client's SASL response line (RFC 5804 §2.1):
// one string, quoted or literal.
func (p *reader) readContinuation() ([]byte, error) {
	args, err := p.readLine(maxSASLLiteral)
	if err != nil {
		return nil, err
	}
	if len(args) != 1 || !args[0].isString() {
		return nil, syntaxErr("Expected a string")
	}
	return args[0].val, nil
}

// readLine reads tokens up to the end of the line, then recovers from a
// parse error by skipping the rest of it.
func (p *reader) readLine(maxLiteral int64) ([]arg, error) {
	p.n, p.lit, p.eol = 0, 0, false
	args, err := p.tokens(maxLiteral)
	var pe *parseError
	if errors.As(err, &pe) && !pe.fatal && !p.eol {
		if serr := p.skipLine(); serr != nil {
			return nil, serr
		}
	}
	return args, err
}

func (p *reader) tokens(maxLiteral int64) ([]arg, error) {
	var args []arg
	needSep := false // a token just ended: a space or the end must follow
	for {
		b, err := p.byte()
		if err != nil {
			return nil, err
		}
		switch b {
		case '\n':
			p.eol = true
			return args, nil
		case '\r':
			if b, err = p.byte(); err != nil {
				return nil, err
			}
			if b != '\n' {
				return nil, syntaxErr("CR without LF")
			}
			p.eol = true
			return args, nil
		case ' ':
			needSep = false
			continue
		}
		if needSep {
			return nil, syntaxErr("Expected a space between arguments")
		}
		if len(args) > maxArgs {
			return nil, syntaxErr("Too many arguments")
		}
		var a arg
		switch {
		case b == '"':
			a, err = p.quoted()
		case b == '{':
			// Even in place of a command name the literal is read, so
			// the session stays in step; readCommand refuses it then.
			a, err = p.literal(maxLiteral)
		case isAtomChar(b):
			a, err = p.atom(b)
		default:
			return nil, syntaxErr("Unexpected character")
		}
		if err != nil {
			return nil, err
		}
		args = append(args, a)
		needSep = true
	}
}

// byte reads one octet of the command line, counting it.
func (p *reader) byte() (byte, error) {
	p.n++
	if p.n > maxLine {
		return 0, errLineTooLong
	}
	return p.r.ReadByte()
}

// isAtomChar is RFC 5804 §4 ATOM-CHAR: printable ASCII but the specials
// ( ) { " \ and space.
func isAtomChar(b byte) bool {
	return b > ' ' && b < 0x7f && !strings.ContainsRune(`(){"\`, rune(b))
}

func (p *reader) atom(first byte) (arg, error) {
	val := []byte{first}
	for {
		b, err := p.peek()
		if err != nil {
			return arg{}, err
		}
		if b == ' ' || b == '\r' || b == '\n' {
			return arg{kind: argAtom, val: val}, nil
		}
		if !isAtomChar(b) {
			return arg{}, syntaxErr("Invalid character in atom")
		}
		if _, err := p.byte(); err != nil {
			return arg{}, err
		}
		val = append(val, b)
	}
}

func (p *reader) peek() (byte, error) {
	b, err := p.r.Peek(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// quoted reads a quoted string after its opening quote (RFC 5804 §4:
// UTF-8 without NUL, CR or LF; only " and \ may be escaped).
func (p *reader) quoted() (arg, error) {
	var val []byte
	for {
		b, err := p.byte()
		if err != nil {
			return arg{}, err
		}
		switch b {
		case '"':
			if !utf8.Valid(val) {
				return arg{}, syntaxErr("Invalid UTF-8 in quoted string")
			}
			return arg{kind: argQuoted, val: val}, nil
		case '\\':
			if b, err = p.byte(); err != nil {
				return arg{}, err
			}
			if b != '"' && b != '\\' {
				if b == '\n' {
					p.eol = true
				}
				return arg{}, syntaxErr("Invalid escape in quoted string")
			}
		case '\n':
			p.eol = true
			return arg{}, syntaxErr("Unterminated quoted string")
		case '\r':
			return arg{}, syntaxErr("Unterminated quoted string")
		case 0:
			return arg{}, syntaxErr("NUL in quoted string")
		}
		val = append(val, b)
	}
}

// literal reads a literal after its "{": the size, "+}" or "}", CRLF,
// then the octets.
func (p *reader) literal(maxLiteral int64) (arg, error) {
	var size int64
	digits := 0
	for {
		b, err := p.byte()
		if err != nil {
			return arg{}, err
		}
		if b >= '0' && b <= '9' {
			digits++
			if digits > 18 {
				return arg{}, syntaxErr("Literal size too large")
			}
			size = size*10 + int64(b-'0')
			continue
		}
		if b == '+' {
			if b, err = p.byte(); err != nil {
				return arg{}, err
			}
		}
		if b != '}' || digits == 0 {
			return arg{}, syntaxErr("Invalid literal size")
		}
		break
	}
	b, err := p.byte()
	if err == nil && b == '\r' {
		b, err = p.byte()
	}
	if err != nil {
		return arg{}, err
	}
	if b != '\n' {
		return arg{}, syntaxErr("Expected CRLF after literal size")
	}
	if p.lit+size > maxLiteral {
		return arg{}, p.tooBig(size)
	}
	p.lit += size
	if p.arm != nil {
		if err := p.arm(); err != nil {
			return arg{}, err
		}
	}
	var buf bytes.Buffer
	// CopyN grows the buffer as octets arrive, never to the announced
	// size up front.
	if _, err := io.CopyN(&buf, p.r, size); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return arg{}, err
	}
	return arg{kind: argLiteral, val: buf.Bytes()}, nil
}

// tooBig handles a literal over the limit: its octets are read and thrown
// away, with the rest of the command, so the session stays in step; a
// literal beyond what we are willing to discard ends the session instead.
func (p *reader) tooBig(size int64) error {
	if size > p.maxDiscard {
		return &parseError{msg: "Literal too large", code: "QUOTA/MAXSIZE", fatal: true}
	}
	if p.arm != nil {
		if err := p.arm(); err != nil {
			return err
		}
	}
	if _, err := io.CopyN(io.Discard, p.r, size); err != nil {
		return err
	}
	return &parseError{msg: "Too large", code: "QUOTA/MAXSIZE"}
}

// skipLine discards input up to and including the next LF. A line longer
// than maxDiscard ends the session.
func (p *reader) skipLine() error {
	var skipped int64
	for {
		chunk, err := p.r.ReadSlice('\n')
		skipped += int64(len(chunk))
		if err == nil {
			p.eol = true
			return nil
		}
		if err != bufio.ErrBufferFull {
			return err
		}
		if skipped > p.maxDiscard {
			return &parseError{msg: "Line too long", fatal: true}
		}
	}
}
