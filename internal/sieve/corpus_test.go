package sieve

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The conformance corpus: testdata/corpus/*.txtar, each a script, a
// message and the actions expected. TestCorpus checks our interpreter
// against the expectation and, when Pigeonhole's sieve-test is
// installed, against what sieve-test does with the same script and
// message. A case marked "differs:" is a known difference (with the RFC
// section that decides it).
//
// File format: header lines "key: value" (from, to, expect, differs,
// mailboxes), then sections "-- script --", "-- message --",
// "-- personal/NAME --", "-- global/NAME --".

type corpusCase struct {
	name      string
	from, to  string
	expect    string
	differs   string
	mailboxes []string
	script    string
	message   string
	personal  map[string]string
	global    map[string]string
}

func loadCorpus(t *testing.T) []*corpusCase {
	files, err := filepath.Glob("testdata/corpus/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	var out []*corpusCase
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c, err := parseCase(filepath.Base(f), string(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, c)
	}
	return out
}

func parseCase(name, s string) (*corpusCase, error) {
	c := &corpusCase{name: strings.TrimSuffix(name, ".txtar"), from: "sender@example.net", to: "me@example.com",
		personal: map[string]string{}, global: map[string]string{}}
	section := ""
	var body strings.Builder
	flush := func() {
		text := body.String()
		switch {
		case section == "script":
			c.script = text
		case section == "message":
			c.message = text
		case strings.HasPrefix(section, "personal/"):
			c.personal[strings.TrimPrefix(section, "personal/")] = text
		case strings.HasPrefix(section, "global/"):
			c.global[strings.TrimPrefix(section, "global/")] = text
		}
		body.Reset()
	}
	for _, line := range strings.SplitAfter(s, "\n") {
		trimmed := strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(trimmed, "-- ") && strings.HasSuffix(trimmed, " --") {
			flush()
			section = strings.TrimSuffix(strings.TrimPrefix(trimmed, "-- "), " --")
			continue
		}
		if section != "" {
			body.WriteString(line)
			continue
		}
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		k, v, ok := strings.Cut(trimmed, ":")
		if !ok {
			return nil, fmt.Errorf("bad header line %q", trimmed)
		}
		v = strings.TrimSpace(v)
		switch k {
		case "from":
			c.from = v
			if v == "<>" {
				c.from = ""
			}
		case "to":
			c.to = v
		case "expect":
			c.expect = normTokens(strings.Fields(v))
		case "differs":
			c.differs = v
		case "mailboxes":
			c.mailboxes = strings.Fields(v)
		default:
			return nil, fmt.Errorf("unknown header %q", k)
		}
	}
	flush()
	if c.script == "" || c.message == "" {
		return nil, errors.New("script and message sections are needed")
	}
	return c, nil
}

func normTokens(toks []string) string {
	sort.Strings(toks)
	return strings.Join(toks, " ")
}

func flagSuffix(flags []string) string {
	if len(flags) == 0 {
		return ""
	}
	l := make([]string, len(flags))
	for i, f := range flags {
		l[i] = strings.ToLower(f)
	}
	sort.Strings(l)
	return "[" + strings.Join(l, ",") + "]"
}

// tokens renders a run's outcome in the corpus's vocabulary.
func tokens(res *Result, err error) string {
	if err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			return "compile-error"
		}
		return "error"
	}
	var t []string
	for _, k := range res.Keeps {
		t = append(t, "store:"+k.Mailbox+flagSuffix(k.Flags))
	}
	if res.ImplicitKeep {
		t = append(t, "implicit"+flagSuffix(res.ImplicitKeepFlags))
	}
	for _, r := range res.Redirects {
		t = append(t, "redirect:"+r.Address)
	}
	if res.Discard {
		t = append(t, "discard")
	}
	if res.Reject != nil {
		t = append(t, "reject")
	}
	if res.Vacation != nil {
		t = append(t, "vacation:"+strconv.FormatInt(int64(res.Vacation.Period/time.Second), 10))
	}
	return normTokens(t)
}

func (c *corpusCase) run() string {
	opts := Options{Include: func(name string, global bool) ([]byte, error) {
		m := c.personal
		if global {
			m = c.global
		}
		s, ok := m[name]
		if !ok {
			return nil, ErrScriptNotFound
		}
		return []byte(s), nil
	}}
	s, err := Compile([]byte(c.script), opts)
	if err != nil {
		return tokens(nil, err)
	}
	env := Env{
		Envelope: Envelope{From: c.from, To: c.to},
		Message:  crlf(c.message),
		Now:      time.Now(),
		MailboxExists: func(name string) bool {
			if strings.EqualFold(name, "INBOX") {
				return true
			}
			for _, m := range c.mailboxes {
				if m == name {
					return true
				}
			}
			return false
		},
	}
	res, err := s.Run(context.Background(), env)
	return tokens(res, err)
}

func TestCorpus(t *testing.T) {
	cases := loadCorpus(t)
	if len(cases) == 0 {
		t.Fatal("empty corpus")
	}
	for _, c := range cases {
		if got := c.run(); got != c.expect {
			t.Errorf("%s: got %q, want %q", c.name, got, c.expect)
		}
	}
}

// TestCorpusPigeonhole runs every corpus case through Pigeonhole's
// sieve-test and compares.
func TestCorpusPigeonhole(t *testing.T) {
	bin, err := exec.LookPath("sieve-test")
	if err != nil {
		if os.Getenv("POSTERN_REQUIRE_TOOLS") != "" {
			t.Fatalf("sieve-test not installed (scripts/deps.sh installs dovecot-sieve): %v", err)
		}
		t.Skip("sieve-test not installed (Debian package dovecot-sieve)")
	}
	cases := loadCorpus(t)
	identical, known := 0, 0
	for _, c := range cases {
		ours := c.run()
		theirs, out, err := runSieveTest(t, bin, c)
		if err != nil {
			t.Errorf("%s: sieve-test: %v\n%s", c.name, err, out)
			continue
		}
		switch {
		case ours == theirs && c.differs == "":
			identical++
		case ours == theirs:
			identical++
			t.Logf("%s: marked as differing (%s) but identical", c.name, c.differs)
		case c.differs != "":
			known++
			t.Logf("%s: known difference: ours %q, Pigeonhole %q (%s)", c.name, ours, theirs, c.differs)
		default:
			t.Errorf("%s: ours %q, Pigeonhole %q\n%s", c.name, ours, theirs, out)
		}
	}
	msg := fmt.Sprintf("corpus: %d scripts, %d identical to Pigeonhole, %d known differences", len(cases), identical, known)
	t.Log(msg)
	fmt.Println(msg)
}

// runSieveTest runs sieve-test as nobody (it refuses to run as root)
// in a scratch home with the case's included scripts and mailboxes.
func runSieveTest(t *testing.T, bin string, c *corpusCase) (string, string, error) {
	home, err := os.MkdirTemp("", "sieve-corpus-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(home)
	write := func(rel, content string) error {
		p := filepath.Join(home, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			return err
		}
		return os.WriteFile(p, []byte(content), 0o666)
	}
	files := map[string]string{"script.sieve": c.script, "message.eml": string(crlf(c.message))}
	for name, s := range c.personal {
		files["sieve/"+name+".sieve"] = s
	}
	for name, s := range c.global {
		files["global/"+name+".sieve"] = s
	}
	for _, m := range append([]string{""}, c.mailboxes...) {
		dir := "Maildir"
		if m != "" {
			dir += "/." + m
		}
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(home, dir, sub), 0o777); err != nil {
				return "", "", err
			}
		}
	}
	os.MkdirAll(filepath.Join(home, "sieve"), 0o777)
	os.MkdirAll(filepath.Join(home, "global"), 0o777)
	conf := "mail_location = maildir:" + home + "/Maildir\n" +
		"plugin {\n  sieve = file:" + home + "/sieve;active=" + home + "/.dovecot.sieve\n" +
		"  sieve_global = " + home + "/global\n}\n"
	files["dovecot.conf"] = conf
	for rel, content := range files {
		if err := write(rel, content); err != nil {
			return "", "", err
		}
	}
	filepath.Walk(home, func(p string, info os.FileInfo, err error) error {
		if err == nil {
			os.Chmod(p, 0o777)
		}
		return nil
	})
	args := "HOME=" + home + " TZ=UTC " + bin + " -c " + home + "/dovecot.conf" +
		" -x '+vacation-seconds +editheader +duplicate +regex'"
	if c.from != "" {
		args += " -f " + shellQuote(c.from)
	} else {
		args += " -f '<>'"
	}
	args += " -a " + shellQuote(c.to) + " -r " + shellQuote(c.to) + " " + home + "/script.sieve " + home + "/message.eml"
	cmd := exec.Command("su", "nobody", "-s", "/bin/sh", "-c", args)
	if os.Getuid() != 0 {
		cmd = exec.Command("/bin/sh", "-c", args)
	}
	out, _ := cmd.CombinedOutput()
	return parseSieveTest(string(out)), string(out), nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// parseSieveTest turns sieve-test's report into corpus tokens.
func parseSieveTest(out string) string {
	if strings.Contains(out, "failed to compile sieve script") {
		return "compile-error"
	}
	if strings.Contains(out, "final result: failed") {
		return "error"
	}
	var toks []string
	section := ""
	last := -1 // index in toks of the last store, for its flags
	inMessage := false
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case line == "START MESSAGE":
			inMessage = true
			continue
		case line == "END MESSAGE":
			inMessage = false
			continue
		case inMessage:
			continue
		case strings.HasPrefix(line, "Performed actions:"):
			section = "actions"
			continue
		case strings.HasPrefix(line, "Implicit keep:"):
			section = "implicit"
			continue
		}
		if section == "" {
			continue
		}
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "* store message in folder: "):
			mbox := strings.TrimPrefix(trimmed, "* store message in folder: ")
			if section == "implicit" {
				toks = append(toks, "implicit")
			} else {
				toks = append(toks, "store:"+mbox)
			}
			last = len(toks) - 1
		case strings.HasPrefix(trimmed, "+ add IMAP flags: ") && last >= 0:
			toks[last] += flagSuffix(strings.Fields(strings.TrimPrefix(trimmed, "+ add IMAP flags: ")))
		case strings.HasPrefix(trimmed, "* redirect message to: "):
			a := strings.TrimPrefix(trimmed, "* redirect message to: ")
			toks = append(toks, "redirect:"+strings.Trim(a, "<>"))
			last = -1
		case strings.HasPrefix(trimmed, "* reject message"):
			toks = append(toks, "reject")
			last = -1
		case trimmed == "* discard":
			toks = append(toks, "discard")
			last = -1
		case strings.HasPrefix(trimmed, "* send vacation message"):
			toks = append(toks, "vacation:")
			last = len(toks) - 1
		case strings.HasPrefix(trimmed, "=> seconds : ") && last >= 0 && strings.HasPrefix(toks[last], "vacation:"):
			toks[last] += strings.TrimPrefix(trimmed, "=> seconds : ")
		}
	}
	return normTokens(toks)
}
