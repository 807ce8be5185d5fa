package sieve

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Options configure compiling and running a script.
type Options struct {
	// MaxScriptSize bounds a script in bytes (default 1 MiB); every
	// included script is bounded by it too.
	MaxScriptSize int
	// MaxActions bounds the actions one run may take (default 32).
	MaxActions int
	// MaxRedirects bounds the redirects of one run (default 4).
	MaxRedirects int
	// MaxIncludeDepth bounds the nesting of include (default 5).
	MaxIncludeDepth int
	// MaxSteps bounds the work of one run: commands, tests and string
	// comparisons evaluated (default 100000).
	MaxSteps int
	// MaxNesting bounds the nesting of blocks and tests (default 32).
	MaxNesting int
	// MaxBodySize bounds how much of a message body tests read
	// (default 10 MiB); the rest is not looked at.
	MaxBodySize int64
	// Extensions enabled; nil = all supported (see Extensions()).
	Extensions []string
	// Include loads a script for `include`; nil = include refused at
	// compile time when used. global is true for :global. It returns
	// ErrScriptNotFound when the script does not exist.
	Include func(name string, global bool) ([]byte, error)
}

func (o Options) withDefaults() Options {
	def := func(p *int, d int) {
		if *p <= 0 {
			*p = d
		}
	}
	def(&o.MaxScriptSize, 1<<20)
	def(&o.MaxActions, 32)
	def(&o.MaxRedirects, 4)
	def(&o.MaxIncludeDepth, 5)
	def(&o.MaxSteps, 100000)
	def(&o.MaxNesting, 32)
	if o.MaxBodySize <= 0 {
		o.MaxBodySize = 10 << 20
	}
	return o
}

// Extensions returns the extensions this package implements, sorted, as
// ManageSieve's SIEVE capability lists them.
func Extensions() []string {
	var out []string
	for _, c := range capabilities {
		if c == "comparator-i;octet" || c == "comparator-i;ascii-casemap" {
			continue // always present, not advertised (RFC 5804 §1.7)
		}
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Script is a compiled script, safe for concurrent Runs.
type Script struct {
	main *compiled
	opts Options
}

// compiled is one script: the main one or an included one.
type compiled struct {
	name     string
	global   bool
	cmds     []*node
	required map[string]bool
	globals  map[string]bool // names declared with "global"
}

// includeRef is an include command's target, resolved at compile time.
type includeRef struct {
	key      string
	name     string
	global   bool
	once     bool
	optional bool
	target   *compiled // nil when optional and absent
}

// compiler compiles a script and what it includes.
type compiler struct {
	opts    Options
	enabled map[string]bool
	done    map[string]*compiled // by include key
	stack   []string             // include keys being compiled
	total   int                  // bytes of every script compiled
	scripts int
}

// Compile parses and validates a script. The error is an *Error with
// the position of the first problem, or a plain error for a script too
// large or an include that could not be loaded.
func Compile(src []byte, opts Options) (*Script, error) {
	opts = opts.withDefaults()
	c := &compiler{opts: opts, done: map[string]*compiled{}, enabled: map[string]bool{}}
	if opts.Extensions == nil {
		for _, e := range capabilities {
			c.enabled[e] = true
		}
	} else {
		known := map[string]bool{}
		for _, e := range capabilities {
			known[e] = true
		}
		for _, e := range opts.Extensions {
			if e = strings.ToLower(e); known[e] {
				c.enabled[e] = true
			}
		}
		for _, e := range []string{"comparator-i;octet", "comparator-i;ascii-casemap"} {
			c.enabled[e] = true
		}
	}
	m, err := c.compile("", false, src, 0)
	if err != nil {
		return nil, err
	}
	return &Script{main: m, opts: opts}, nil
}

func (c *compiler) compile(name string, global bool, src []byte, depth int) (*compiled, error) {
	if len(src) > c.opts.MaxScriptSize {
		return nil, fmt.Errorf("sieve: script %s is %d bytes, over the limit of %d", scriptLabel(name), len(src), c.opts.MaxScriptSize)
	}
	c.total += len(src)
	c.scripts++
	if c.total > 4*c.opts.MaxScriptSize || c.scripts > 256 {
		return nil, fmt.Errorf("sieve: scripts with their includes are too large")
	}
	raw, perr := parse(string(src), parseLimits{maxDepth: c.opts.MaxNesting, maxList: 10000})
	if perr != nil {
		perr.Script = name
		return nil, perr
	}
	v := &validator{enabled: c.enabled, required: map[string]bool{}, c: c, script: name, depth: depth, globals: map[string]bool{}}
	cmds, verr := v.commands(raw, true)
	if verr != nil {
		if verr.Script == "" {
			verr.Script = name
		}
		return nil, verr
	}
	if inc := v.includeErr; inc != nil {
		return nil, inc
	}
	return &compiled{name: name, global: global, cmds: cmds, required: v.required, globals: v.globals}, nil
}

func scriptLabel(name string) string {
	if name == "" {
		return "(main)"
	}
	return quote(name)
}

func includeKey(name string, global bool) string {
	if global {
		return "global/" + name
	}
	return "personal/" + name
}

// resolveInclude loads and compiles an include's target (RFC 6609 §3.2).
func (v *validator) resolveInclude(n *node) *Error {
	s := n.args[0].strs[0]
	if !s.constant() {
		return errAt(n.args[0].pos, "include: script name must be constant")
	}
	name := s.lit
	if name == "" || strings.ContainsAny(name, "/\x00") {
		return errAt(n.args[0].pos, "include: invalid script name %q", name)
	}
	ref := &includeRef{name: name, global: n.has("global"), once: n.has("once"), optional: n.has("optional")}
	ref.key = includeKey(name, ref.global)
	n.include = ref
	c := v.c
	if c.opts.Include == nil {
		return errAt(n.pos, "include: including scripts is not available")
	}
	if v.depth+1 > c.opts.MaxIncludeDepth {
		return errAt(n.pos, "include: nested too deeply (limit %d)", c.opts.MaxIncludeDepth)
	}
	for _, k := range c.stack {
		if k == ref.key {
			return errAt(n.pos, "include: script %q includes itself", name)
		}
	}
	if done, ok := c.done[ref.key]; ok {
		ref.target = done
		return nil
	}
	src, err := c.opts.Include(name, ref.global)
	if errors.Is(err, ErrScriptNotFound) {
		if ref.optional {
			return nil
		}
		return errAt(n.args[0].pos, "include: script %q not found", name)
	}
	if err != nil {
		v.includeErr = fmt.Errorf("sieve: include %q: %w", name, err)
		return errAt(n.args[0].pos, "include: cannot load script %q: %v", name, err)
	}
	c.stack = append(c.stack, ref.key)
	sub, cerr := c.compile(name, ref.global, src, v.depth+1)
	c.stack = c.stack[:len(c.stack)-1]
	if cerr != nil {
		var se *Error
		if errors.As(cerr, &se) {
			return se
		}
		return errAt(n.args[0].pos, "include: %v", cerr)
	}
	c.done[ref.key] = sub
	ref.target = sub
	return nil
}
