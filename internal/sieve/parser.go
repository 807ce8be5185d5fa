package sieve

// The syntax tree of RFC 5228 §8.2, before validation.

type argKind int

const (
	aString argKind = iota // a single string
	aStringList
	aNumber
	aTag
)

type rawArg struct {
	kind argKind
	pos  pos
	strs []string // aString: one element
	num  int64
	tag  string
}

type rawNode struct {
	name  string
	pos   pos
	args  []rawArg
	tests []*rawNode
	block []*rawNode // commands with a block; nil for ';'
	// hasBlock tells a command ended with a block rather than ';'.
	hasBlock bool
	// testList tells the tests came as a parenthesised list.
	testList bool
}

// parseLimits bound the parser's work.
type parseLimits struct {
	maxDepth int // nesting of blocks and test lists
	maxList  int // elements of one string list, arguments of one command
}

type parser struct {
	lx  *lexer
	tok token
	lim parseLimits
	// nodes counts commands and tests, against scripts that are small
	// in bytes and huge in nodes (they cannot be: every node costs bytes).
	nodes int
}

func parse(src string, lim parseLimits) ([]*rawNode, *Error) {
	p := &parser{lx: newLexer(src), lim: lim}
	if err := p.advance(); err != nil {
		return nil, err
	}
	cmds, err := p.commands(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, errAt(p.tok.pos, "unexpected %s", p.tok.kind)
	}
	return cmds, nil
}

func (p *parser) advance() *Error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) expect(k tokKind) *Error {
	if p.tok.kind != k {
		return errAt(p.tok.pos, "expected %s, found %s", k, p.tok.kind)
	}
	return p.advance()
}

// commands reads commands until '}' or the end.
func (p *parser) commands(depth int) ([]*rawNode, *Error) {
	var cmds []*rawNode
	for p.tok.kind == tIdent {
		c, err := p.command(depth)
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, c)
	}
	if p.tok.kind != tEOF && p.tok.kind != tRBrace {
		return nil, errAt(p.tok.pos, "expected a command, found %s", p.tok.kind)
	}
	return cmds, nil
}

func (p *parser) command(depth int) (*rawNode, *Error) {
	n, err := p.node(depth, false)
	if err != nil {
		return nil, err
	}
	switch p.tok.kind {
	case tSemicolon:
		return n, p.advance()
	case tLBrace:
		if depth+1 > p.lim.maxDepth {
			return nil, errAt(p.tok.pos, "blocks nested too deeply (limit %d)", p.lim.maxDepth)
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		block, err := p.commands(depth + 1)
		if err != nil {
			return nil, err
		}
		if err := p.expect(tRBrace); err != nil {
			return nil, err
		}
		n.block, n.hasBlock = block, true
		return n, nil
	}
	return nil, errAt(p.tok.pos, "expected ';' or '{' after command %q, found %s", n.name, p.tok.kind)
}

// node reads an identifier and its arguments: a command's or a test's.
func (p *parser) node(depth int, isTest bool) (*rawNode, *Error) {
	if p.tok.kind != tIdent {
		what := "command"
		if isTest {
			what = "test"
		}
		return nil, errAt(p.tok.pos, "expected a %s, found %s", what, p.tok.kind)
	}
	p.nodes++
	n := &rawNode{name: p.tok.text, pos: p.tok.pos}
	if err := p.advance(); err != nil {
		return nil, err
	}
	for {
		if len(n.args) >= p.lim.maxList {
			return nil, errAt(p.tok.pos, "too many arguments")
		}
		switch p.tok.kind {
		case tString:
			n.args = append(n.args, rawArg{kind: aString, pos: p.tok.pos, strs: []string{p.tok.text}})
		case tNumber:
			n.args = append(n.args, rawArg{kind: aNumber, pos: p.tok.pos, num: p.tok.num})
		case tTag:
			n.args = append(n.args, rawArg{kind: aTag, pos: p.tok.pos, tag: p.tok.text})
		case tLBracket:
			a, err := p.stringList()
			if err != nil {
				return nil, err
			}
			n.args = append(n.args, a)
			continue
		default:
			return p.tests(n, depth)
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
}

// tests reads the optional test or test list ending a node's arguments.
func (p *parser) tests(n *rawNode, depth int) (*rawNode, *Error) {
	switch p.tok.kind {
	case tIdent:
		if depth+1 > p.lim.maxDepth {
			return nil, errAt(p.tok.pos, "tests nested too deeply (limit %d)", p.lim.maxDepth)
		}
		t, err := p.node(depth+1, true)
		if err != nil {
			return nil, err
		}
		n.tests = []*rawNode{t}
	case tLParen:
		n.testList = true
		if depth+1 > p.lim.maxDepth {
			return nil, errAt(p.tok.pos, "tests nested too deeply (limit %d)", p.lim.maxDepth)
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		for {
			if len(n.tests) >= p.lim.maxList {
				return nil, errAt(p.tok.pos, "too many tests in a list")
			}
			t, err := p.node(depth+1, true)
			if err != nil {
				return nil, err
			}
			n.tests = append(n.tests, t)
			if p.tok.kind == tComma {
				if err := p.advance(); err != nil {
					return nil, err
				}
				continue
			}
			if err := p.expect(tRParen); err != nil {
				return nil, err
			}
			break
		}
	}
	return n, nil
}

func (p *parser) stringList() (rawArg, *Error) {
	a := rawArg{kind: aStringList, pos: p.tok.pos}
	if err := p.advance(); err != nil {
		return a, err
	}
	for {
		if p.tok.kind != tString {
			return a, errAt(p.tok.pos, "expected a string in string list, found %s", p.tok.kind)
		}
		if len(a.strs) >= p.lim.maxList {
			return a, errAt(p.tok.pos, "string list too long (limit %d)", p.lim.maxList)
		}
		a.strs = append(a.strs, p.tok.text)
		if err := p.advance(); err != nil {
			return a, err
		}
		if p.tok.kind == tComma {
			if err := p.advance(); err != nil {
				return a, err
			}
			continue
		}
		return a, p.expect(tRBracket)
	}
}
