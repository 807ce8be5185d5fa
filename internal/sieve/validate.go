package sieve

import (
	"regexp"
	"strings"
)

// node is a validated command or test, ready to run.
type node struct {
	name  string
	pos   pos
	spec  *cmdSpec
	tags  map[string]*tagVal
	args  []val // positional arguments, as many as given
	tests []*node
	block []*node
	// else/elsif following an if or elsif.
	next *node

	// Resolved test arguments, set for tests that take them.
	cmp   comparator
	mt    matchType
	rel   relOp
	part  addrPart
	index int // :index, 0 = none
	last  bool

	// Per-command resolved data.
	include *includeRef      // include
	regexes []*regexp.Regexp // :regex with constant keys, one per key
}

// tagVal is a tag present on a node, with its argument.
type tagVal struct {
	pos pos
	v   val
}

// val is an argument value: a number or a list of strings (a single
// string is a list of one).
type val struct {
	pos  pos
	num  int64
	strs []str
}

func (n *node) tag(name string) *tagVal {
	if n.tags == nil {
		return nil
	}
	return n.tags[name]
}

func (n *node) has(name string) bool { return n.tag(name) != nil }

// validator checks a parsed script against the command table and the
// script's require statements.
type validator struct {
	enabled  map[string]bool // extensions the options allow
	required map[string]bool // extensions the script requires
	c        *compiler       // for include
	script   string          // name of this script for errors, "" main
	depth    int             // include depth of this script
	globals  map[string]bool
	// includeErr keeps a loading failure's cause for Compile.
	includeErr error
}

func (v *validator) commands(raw []*rawNode, top bool) ([]*node, *Error) {
	var out []*node
	var prev *node // the last if/elsif for a following elsif/else
	seenOther := false
	for _, r := range raw {
		spec := commands[r.name]
		if spec == nil {
			return nil, errAt(r.pos, "unknown command %q", r.name)
		}
		if spec.test {
			return nil, errAt(r.pos, "%q is a test, not a command", r.name)
		}
		if r.name == "require" {
			if !top || seenOther {
				return nil, errAt(r.pos, "require must come before any other command")
			}
			if err := v.require(r); err != nil {
				return nil, err
			}
			continue
		}
		seenOther = true
		n, err := v.node(r, spec)
		if err != nil {
			return nil, err
		}
		switch r.name {
		case "elsif", "else":
			if prev == nil {
				return nil, errAt(r.pos, "%s without a preceding if", r.name)
			}
			prev.next = n
			if r.name == "elsif" {
				prev = n
			} else {
				prev = nil
			}
			continue
		case "if":
			prev = n
		default:
			prev = nil
		}
		out = append(out, n)
	}
	return out, nil
}

// require records the capabilities a script asks for (RFC 5228 §3.2).
func (v *validator) require(r *rawNode) *Error {
	if len(r.args) != 1 || r.args[0].kind == aNumber || r.args[0].kind == aTag || len(r.tests) > 0 || r.hasBlock {
		return errAt(r.pos, "require takes one string list")
	}
	for _, name := range r.args[0].strs {
		lname := strings.ToLower(name)
		if !v.enabled[lname] {
			return errAt(r.args[0].pos, "unknown extension %q in require", name)
		}
		v.required[lname] = true
		if lname == "vacation-seconds" {
			v.required["vacation"] = true // RFC 6131 §2 extends vacation
		}
	}
	return nil
}

func (v *validator) needs(p pos, ext, what string) *Error {
	if ext == "" || v.required[ext] {
		return nil
	}
	return errAt(p, "%s needs require %q", what, ext)
}

// node checks one command or test and resolves its arguments.
func (v *validator) node(r *rawNode, spec *cmdSpec) (*node, *Error) {
	if err := v.needs(r.pos, spec.ext, quote(r.name)); err != nil {
		return nil, err
	}
	n := &node{name: r.name, pos: r.pos, spec: spec}
	if err := v.args(n, r); err != nil {
		return nil, err
	}
	// Tests.
	switch {
	case spec.tests == 0 && len(r.tests) > 0:
		return nil, errAt(r.tests[0].pos, "%q takes no test", r.name)
	case spec.tests == 1 && (len(r.tests) != 1 || r.testList):
		return nil, errAt(r.pos, "%q takes exactly one test", r.name)
	case spec.tests == -1 && (len(r.tests) == 0 || !r.testList):
		return nil, errAt(r.pos, "%q takes a list of tests", r.name)
	}
	for _, rt := range r.tests {
		ts := commands[rt.name]
		if ts == nil {
			return nil, errAt(rt.pos, "unknown test %q", rt.name)
		}
		if !ts.test {
			return nil, errAt(rt.pos, "%q is a command, not a test", rt.name)
		}
		t, err := v.node(rt, ts)
		if err != nil {
			return nil, err
		}
		n.tests = append(n.tests, t)
	}
	// Block.
	if spec.block && !r.hasBlock {
		return nil, errAt(r.pos, "%q needs a block", r.name)
	}
	if !spec.block && r.hasBlock {
		return nil, errAt(r.pos, "%q takes no block", r.name)
	}
	if r.hasBlock {
		b, err := v.commands(r.block, false)
		if err != nil {
			return nil, err
		}
		n.block = b
	}
	if err := v.resolve(n); err != nil {
		return nil, err
	}
	return n, nil
}

// args sorts a node's arguments into tags and positional arguments.
func (v *validator) args(n *node, r *rawNode) *Error {
	i := 0
	for ; i < len(r.args) && r.args[i].kind == aTag; i++ {
		a := r.args[i]
		ts, ok := n.spec.tags[a.tag]
		if !ok {
			return errAt(a.pos, "unknown tag \":%s\" for %q", a.tag, r.name)
		}
		if err := v.needs(a.pos, ts.ext, "\":"+a.tag+"\""); err != nil {
			return err
		}
		if n.tags == nil {
			n.tags = map[string]*tagVal{}
		}
		if n.tags[a.tag] != nil {
			return errAt(a.pos, "tag \":%s\" given twice", a.tag)
		}
		if ts.group != "" {
			for other := range n.tags {
				if other != a.tag && n.spec.tags[other].group == ts.group {
					return errAt(a.pos, "tags \":%s\" and \":%s\" cannot be combined", other, a.tag)
				}
			}
		}
		tv := &tagVal{pos: a.pos}
		if ts.arg != argNone {
			i++
			if i >= len(r.args) {
				return errAt(a.pos, "tag \":%s\" needs a %s argument", a.tag, ts.arg)
			}
			val, err := v.value(r.args[i], ts.arg, "\":"+a.tag+"\"")
			if err != nil {
				return err
			}
			tv.v = val
		}
		n.tags[a.tag] = tv
	}
	pos := r.args[i:]
	if len(pos) > len(n.spec.args) || len(pos) < len(n.spec.args)-n.spec.opt {
		p := r.pos
		if len(pos) > 0 {
			p = pos[0].pos
		}
		if len(pos) > len(n.spec.args) {
			p = pos[len(n.spec.args)].pos
		}
		return errAt(p, "%q takes %d positional argument(s), %d given", r.name, len(n.spec.args), len(pos))
	}
	for j, a := range pos {
		if a.kind == aTag {
			return errAt(a.pos, "tag \":%s\" after positional arguments", a.tag)
		}
		val, err := v.value(a, n.spec.args[j], quote(r.name))
		if err != nil {
			return err
		}
		n.args = append(n.args, val)
	}
	return nil
}

func (v *validator) value(a rawArg, want argType, what string) (val, *Error) {
	out := val{pos: a.pos}
	switch want {
	case argNumber:
		if a.kind != aNumber {
			return out, errAt(a.pos, "%s expects a number", what)
		}
		out.num = a.num
		return out, nil
	case argString:
		if a.kind != aString {
			return out, errAt(a.pos, "%s expects a string", what)
		}
	case argStringList:
		if a.kind != aString && a.kind != aStringList {
			return out, errAt(a.pos, "%s expects a string list", what)
		}
	}
	for _, s := range a.strs {
		st, err := v.str(a.pos, s)
		if err != nil {
			return out, err
		}
		out.strs = append(out.strs, st)
	}
	return out, nil
}

func quote(s string) string { return "\"" + s + "\"" }
