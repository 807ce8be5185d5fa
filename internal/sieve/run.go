package sieve

import (
	"context"
	"strings"
	"time"
)

// Envelope is the SMTP envelope of the delivery the script runs for.
type Envelope struct {
	From string // MAIL FROM, "" for the null sender
	To   string // the RCPT TO address this run is for (the original recipient)
	Auth string // authenticated submitter, "" if none
}

// Env is everything a run sees besides the script.
type Env struct {
	Envelope Envelope
	Message  Message
	Now      time.Time      // currentdate, and vacation/duplicate bookkeeping
	Location *time.Location // local zone for date tests; nil = UTC
	// MailboxExists answers mailboxexists; nil = only INBOX exists.
	MailboxExists func(name string) bool
	// Duplicate reports whether (handle, id) was already seen within
	// its period (RFC 7352). nil = never seen. The interpreter does not
	// record: Result.DuplicateMarks says what to record after a
	// successful delivery.
	Duplicate func(handle, id string) bool
	// Flags present on the message before the script (usually none):
	// the initial value of the imap4flags internal variable.
	Flags []string
	// UserAddresses are the account's own addresses (vacation's
	// :addresses default and the "is it to me" check).
	UserAddresses []string
}

// Result is what a run decided.
type Result struct {
	// ImplicitKeep is true when no action cancelled the implicit keep
	// (RFC 5228 §2.10.2); the keep's flags are ImplicitKeepFlags.
	ImplicitKeep      bool
	ImplicitKeepFlags []string
	// Keeps are the explicit keep (Mailbox "INBOX") and fileinto, in
	// order, a mailbox named twice kept once (RFC 5228 §2.10.3).
	Keeps     []FileInto
	Discard   bool
	Redirects []Redirect
	Reject    *Reject
	Vacation  *Vacation
	// HeaderEdits are the editheader changes, in order; apply them with
	// ApplyHeaderEdits to every copy stored or redirected.
	HeaderEdits []HeaderEdit
	// DuplicateMarks are the duplicate ids to record after delivery.
	DuplicateMarks []DuplicateMark
	Log            []string
}

// FileInto is a keep or fileinto action.
type FileInto struct {
	Mailbox string
	Flags   []string // nil: none
	Create  bool     // :create (RFC 5490 §3.2)
	Copy    bool     // :copy: did not cancel the implicit keep
}

// Redirect is a redirect action.
type Redirect struct {
	Address string
	Copy    bool
}

// Reject is a reject (RFC 5429 §2.2) or ereject (§2.1) action.
type Reject struct {
	Reason   string
	Extended bool // ereject: refuse in SMTP when possible
}

// DuplicateMark is a duplicate test's id to record (RFC 7352 §3).
type DuplicateMark struct {
	Handle string
	ID     string
	Period time.Duration
	Last   bool // :last: the expiry restarts at every delivery
}

// flow tells how a block ended.
type flow int

const (
	flowNext flow = iota
	flowStop
	flowReturn
)

// runner is the state of one run.
type runner struct {
	ctx     context.Context
	s       *Script
	env     Env
	res     *Result
	msg     *msgView
	steps   int
	actions int
	// Variables: the current script's locals and the globals.
	locals  map[string]string
	globals map[string]string
	cur     *compiled
	mvars   []string // match variables
	flags   []string // imap4flags internal variable
	// The implicit keep's state and the dedupe indexes.
	cancelled bool
	keepIdx   map[string]int
	redirSeen map[string]bool
	included  map[string]bool
	dupSeen   map[string]bool
	depth     int
	// folded caches the case-folded form of long values (bodies, big
	// headers) by where their bytes live: every :contains test of a run
	// compares against the same few values.
	folded map[*byte]string
}

// Run interprets the script for one message and envelope. A non-nil
// error means the script failed (a limit hit, actions that cannot be
// combined, the message unreadable): the caller keeps the message in
// INBOX (RFC 5228 §2.10.6) and logs the error.
func (s *Script) Run(ctx context.Context, env Env) (*Result, error) {
	if env.Location == nil {
		env.Location = time.UTC
	}
	if env.Now.IsZero() {
		env.Now = time.Now()
	}
	r := &runner{
		ctx: ctx, s: s, env: env, res: &Result{},
		msg:     &msgView{m: env.Message, maxBody: s.opts.MaxBodySize},
		globals: map[string]string{}, keepIdx: map[string]int{},
		redirSeen: map[string]bool{}, included: map[string]bool{}, dupSeen: map[string]bool{},
		flags: normalizeFlags(env.Flags),
	}
	if _, err := r.runScript(s.main); err != nil {
		return nil, err
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	return r.res, nil
}

func (r *runner) runScript(c *compiled) (flow, error) {
	saveCur, saveLocals, saveMatch := r.cur, r.locals, r.mvars
	r.cur, r.locals, r.mvars = c, map[string]string{}, nil
	f, err := r.block(c.cmds)
	r.cur, r.locals, r.mvars = saveCur, saveLocals, saveMatch
	return f, err
}

// finish checks the actions against each other and settles the
// implicit keep.
func (r *runner) finish() error {
	res := r.res
	if res.Reject != nil {
		// RFC 5429 §2.1-2.2: reject cannot be combined with keep,
		// fileinto, redirect; nor, as in Pigeonhole, with vacation.
		switch {
		case len(res.Keeps) > 0:
			return &RuntimeError{Msg: "reject cannot be combined with keep or fileinto"}
		case len(res.Redirects) > 0:
			return &RuntimeError{Msg: "reject cannot be combined with redirect"}
		case res.Vacation != nil:
			return &RuntimeError{Msg: "reject cannot be combined with vacation"}
		}
	}
	res.ImplicitKeep = !r.cancelled
	if res.ImplicitKeep {
		res.ImplicitKeepFlags = append([]string(nil), r.flags...)
	}
	return nil
}

// step counts work against MaxSteps and watches the context.
func (r *runner) step(p pos) error {
	r.steps++
	if r.steps > r.s.opts.MaxSteps {
		return &RuntimeError{Line: p.line, Column: p.col, Msg: "too much work (step limit reached)"}
	}
	if r.steps&1023 == 0 {
		if err := r.ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) block(cmds []*node) (flow, error) {
	for _, n := range cmds {
		f, err := r.command(n)
		if err != nil || f != flowNext {
			return f, err
		}
	}
	return flowNext, nil
}

func (r *runner) command(n *node) (flow, error) {
	if err := r.step(n.pos); err != nil {
		return flowNext, err
	}
	switch n.name {
	case "if":
		for c := n; c != nil; c = c.next {
			ok := true
			if c.name != "else" {
				var err error
				if ok, err = r.test(c.tests[0]); err != nil {
					return flowNext, err
				}
			}
			if ok {
				return r.block(c.block)
			}
		}
		return flowNext, nil
	case "stop":
		return flowStop, nil
	case "return":
		return flowReturn, nil
	case "keep":
		return flowNext, r.keep(n)
	case "discard":
		if err := r.action(n); err != nil {
			return flowNext, err
		}
		r.res.Discard = true
		r.cancelled = true
	case "redirect":
		return flowNext, r.redirect(n)
	case "fileinto":
		return flowNext, r.fileinto(n)
	case "reject", "ereject":
		return flowNext, r.reject(n)
	case "setflag", "addflag", "removeflag":
		return flowNext, r.editFlags(n)
	case "set":
		return flowNext, r.set(n)
	case "global":
		return flowNext, nil
	case "vacation":
		return flowNext, r.vacation(n)
	case "include":
		return r.include(n)
	case "addheader":
		return flowNext, r.addHeader(n)
	case "deleteheader":
		return flowNext, r.deleteHeader(n)
	}
	return flowNext, nil
}

// action counts an action against MaxActions.
func (r *runner) action(n *node) error {
	r.actions++
	if r.actions > r.s.opts.MaxActions {
		return &RuntimeError{Line: n.pos.line, Column: n.pos.col, Msg: "too many actions"}
	}
	return nil
}

func (r *runner) keep(n *node) error {
	flags := r.flags
	if t := n.tag("flags"); t != nil {
		flags = r.flagList(t.v)
	}
	return r.store(n, "INBOX", flags, false, false)
}

func (r *runner) fileinto(n *node) error {
	mailbox := r.expand(n.args[0].strs[0])
	if mailbox == "" {
		return &RuntimeError{Line: n.pos.line, Column: n.pos.col, Msg: "fileinto: empty mailbox name"}
	}
	flags := r.flags
	if t := n.tag("flags"); t != nil {
		flags = r.flagList(t.v)
	}
	return r.store(n, mailbox, flags, n.has("copy"), n.has("create"))
}

// store records a keep or fileinto; a mailbox named again is merged
// into the first (RFC 5228 §2.10.3), with the later flags.
func (r *runner) store(n *node, mailbox string, flags []string, cpy, create bool) error {
	if strings.EqualFold(mailbox, "INBOX") {
		mailbox = "INBOX"
	}
	if !cpy {
		r.cancelled = true
	}
	if i, ok := r.keepIdx[mailbox]; ok {
		k := &r.res.Keeps[i]
		// The later action's flags replace the earlier's, as Pigeonhole does.
		k.Flags = append([]string(nil), flags...)
		k.Copy = k.Copy && cpy
		k.Create = k.Create || create
		return nil
	}
	if err := r.action(n); err != nil {
		return err
	}
	r.keepIdx[mailbox] = len(r.res.Keeps)
	r.res.Keeps = append(r.res.Keeps, FileInto{Mailbox: mailbox, Flags: append([]string(nil), flags...), Copy: cpy, Create: create})
	return nil
}

func (r *runner) redirect(n *node) error {
	addr := strings.TrimSpace(r.expand(n.args[0].strs[0]))
	if !validAddress(addr) {
		return &RuntimeError{Line: n.pos.line, Column: n.pos.col, Msg: "redirect: invalid address " + quote(addr)}
	}
	cpy := n.has("copy")
	if !cpy {
		r.cancelled = true
	}
	key := normalizeAddress(addr)
	if r.redirSeen[key] {
		for i := range r.res.Redirects {
			if normalizeAddress(r.res.Redirects[i].Address) == key {
				r.res.Redirects[i].Copy = r.res.Redirects[i].Copy && cpy
			}
		}
		return nil
	}
	if len(r.res.Redirects) >= r.s.opts.MaxRedirects {
		return &RuntimeError{Line: n.pos.line, Column: n.pos.col, Msg: "too many redirects"}
	}
	if err := r.action(n); err != nil {
		return err
	}
	r.redirSeen[key] = true
	r.res.Redirects = append(r.res.Redirects, Redirect{Address: addr, Copy: cpy})
	return nil
}

// normalizeAddress lower-cases an address's domain, for comparing.
func normalizeAddress(a string) string {
	at := strings.LastIndexByte(a, '@')
	if at < 0 {
		return a
	}
	return a[:at] + "@" + strings.ToLower(a[at+1:])
}

func (r *runner) reject(n *node) error {
	if r.res.Reject != nil {
		return &RuntimeError{Line: n.pos.line, Column: n.pos.col, Msg: "reject: only one reject per run"}
	}
	if err := r.action(n); err != nil {
		return err
	}
	r.res.Reject = &Reject{Reason: r.expand(n.args[0].strs[0]), Extended: n.name == "ereject"}
	r.cancelled = true
	return nil
}

func (r *runner) include(n *node) (flow, error) {
	ref := n.include
	if ref.target == nil {
		return flowNext, nil // :optional and absent (RFC 6609 §3.2)
	}
	if ref.once && r.included[ref.key] {
		return flowNext, nil
	}
	r.included[ref.key] = true
	if r.depth >= r.s.opts.MaxIncludeDepth {
		return flowNext, &RuntimeError{Line: n.pos.line, Column: n.pos.col, Msg: "include nested too deeply"}
	}
	r.depth++
	f, err := r.runScript(ref.target)
	r.depth--
	if f == flowReturn {
		f = flowNext
	}
	return f, err
}
