package pop3d

import (
	"bufio"
	"errors"
	"strings"
)

// Limits of what a client may send.
const (
	// maxLine is the longest command line accepted, CRLF included. RFC 2449
	// §4 sets 255 octets; we allow twice that for lenient clients.
	maxLine = 512
	// maxAuthLine bounds a SASL response line (RFC 5034 §4 lets those
	// exceed the command-line limit).
	maxAuthLine = 4096
	// maxArgs bounds the arguments of one command; no POP3 command takes
	// more than two.
	maxArgs = 4
	// maxArgLen is RFC 1939 §3's 40 octets, doubled for lenience (a long
	// user name is an address).
	maxArgLen = 255
)

var (
	errLineTooLong = errors.New("line too long")
	errBadSyntax   = errors.New("syntax error")
)

// command is one parsed command line.
type command struct {
	// Name is the keyword in upper case.
	Name string
	// Args are the space-separated arguments.
	Args []string
	// Rest is everything after the keyword and one space, verbatim: PASS
	// takes it whole because a password may contain spaces (RFC 1939 §7).
	Rest string
}

// parseCommand parses a command line without its line ending. RFC 1939 §3:
// a keyword of three or four printable characters, then arguments separated
// by single spaces. We accept runs of spaces between arguments, and reject
// control characters anywhere.
func parseCommand(line string) (command, error) {
	if len(line) > maxLine {
		return command{}, errLineTooLong
	}
	for i := 0; i < len(line); i++ {
		if c := line[i]; c < 0x20 || c == 0x7f {
			return command{}, errBadSyntax
		}
	}
	name, rest, _ := strings.Cut(line, " ")
	if len(name) < 3 || len(name) > 4 {
		return command{}, errBadSyntax
	}
	for i := 0; i < len(name); i++ {
		c := name[i] | 0x20 // ASCII lower case
		if c < 'a' || c > 'z' {
			return command{}, errBadSyntax
		}
	}
	upper := strings.ToUpper(name)
	if upper == "PASS" {
		// The password is the whole rest of the line (RFC 1939 §7), however
		// many spaces it holds; it is never split into arguments.
		return command{Name: upper, Rest: rest}, nil
	}
	args := strings.Fields(rest)
	if len(args) > maxArgs {
		return command{}, errBadSyntax
	}
	for _, a := range args {
		if len(a) > maxArgLen {
			return command{}, errBadSyntax
		}
	}
	return command{Name: upper, Args: args, Rest: rest}, nil
}

// readLine reads one line of at most limit octets and returns it without
// its CRLF (a bare LF is accepted too). A longer line is consumed to its
// end and reported as errLineTooLong, so the session stays in step with
// the client. Other errors are the connection's.
func readLine(r *bufio.Reader, limit int) (string, error) {
	var buf []byte
	tooLong := false
	for {
		chunk, err := r.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > limit {
				tooLong = true
				buf = nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		break
	}
	if tooLong {
		return "", errLineTooLong
	}
	buf = buf[:len(buf)-1] // the LF
	if n := len(buf); n > 0 && buf[n-1] == '\r' {
		buf = buf[:n-1]
	}
	return string(buf), nil
}

// parseMsgNum parses a message number argument: a decimal in 1..n, without
// sign (RFC 1939 §3).
func parseMsgNum(s string, n int) (int, bool) {
	if s == "" || len(s) > 10 {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	if v < 1 || v > n {
		return 0, false
	}
	return v, true
}

// parseCount parses TOP's line count: a non-negative decimal. A count
// larger than any message saturates instead of being refused.
func parseCount(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	const ceiling = 1 << 30
	v := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = min(v*10+int(c-'0'), ceiling)
	}
	return v, true
}
