package managesieve

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

const script1 = "require \"fileinto\";\r\nif header :contains \"subject\" \"x\" { fileinto \"X\"; }\r\n"

func loggedIn(t *testing.T) (*testEnv, *client) {
	t.Helper()
	e := startServer(t, nil)
	c := e.dial()
	c.login("alice@x", "secret")
	return e, c
}

func TestPutAndGetScript(t *testing.T) {
	e, c := loggedIn(t)
	// Non-synchronizing literal, synchronizing literal, quoted string.
	c.ok(fmt.Sprintf("PUTSCRIPT \"one\" {%d+}\r\n%s", len(script1), script1))
	c.ok(fmt.Sprintf("PUTSCRIPT \"two\" {%d}\r\n%s", len(script1), script1))
	c.ok(`PUTSCRIPT "three" "keep;"`)
	// A literal name and an empty script.
	c.ok("PUTSCRIPT {4+}\r\nfour \"\"")
	if got, _ := e.scripts.get(1, "one"); got != script1 {
		t.Fatalf("stored %q", got)
	}
	if got, _ := e.scripts.get(1, "three"); got != "keep;" {
		t.Fatalf("stored %q", got)
	}
	c.send("GETSCRIPT \"one\"\r\n")
	if l := c.line(); l != fmt.Sprintf("{%d}", len(script1)) {
		t.Fatalf("GETSCRIPT literal header %q", l)
	}
	data, final := c.resp()
	if strings.Join(data, "\r\n") != script1 || final != `OK "Getscript completed"` {
		// The script's own lines, then the CRLF after the literal, then OK.
		t.Fatalf("GETSCRIPT = %q, %q", data, final)
	}
	if got := c.ok(`GETSCRIPT "four"`); !slices.Equal(got, []string{"<>"}) {
		t.Fatalf("empty script = %q", got)
	}
	c.expect(`GETSCRIPT "nope"`, `NO (NONEXISTENT)`)
	// Replacing keeps one script of the name.
	c.ok(`PUTSCRIPT "three" "discard;"`)
	if got, _ := e.scripts.get(1, "three"); got != "discard;" {
		t.Fatalf("replaced %q", got)
	}
	if got := c.ok("LISTSCRIPTS"); !slices.Equal(got, []string{`"four"`, `"one"`, `"three"`, `"two"`}) {
		t.Fatalf("LISTSCRIPTS = %q", got)
	}
	if !strings.Contains(e.logs.String(), "msg=\"script stored\"") || strings.Contains(e.logs.String(), "fileinto") {
		t.Errorf("log:\n%s", e.logs)
	}
}

func TestActiveScript(t *testing.T) {
	e, c := loggedIn(t)
	c.ok(`PUTSCRIPT "a" "keep;"`)
	c.ok(`PUTSCRIPT "b" "keep;"`)
	c.expect(`SETACTIVE "nope"`, "NO (NONEXISTENT)")
	c.ok(`SETACTIVE "a"`)
	if got := c.ok("LISTSCRIPTS"); !slices.Equal(got, []string{`"a" ACTIVE`, `"b"`}) {
		t.Fatalf("LISTSCRIPTS = %q", got)
	}
	c.expect(`DELETESCRIPT "a"`, `NO (ACTIVE)`)
	c.ok(`DELETESCRIPT "b"`)
	c.expect(`DELETESCRIPT "b"`, `NO (NONEXISTENT)`)
	// Renaming the active script keeps it active.
	c.ok(`RENAMESCRIPT "a" "c"`)
	if got := e.scripts.activeName(1); got != "c" {
		t.Fatalf("active after rename = %q", got)
	}
	c.ok(`SETACTIVE ""`)
	if got := c.ok("LISTSCRIPTS"); !slices.Equal(got, []string{`"c"`}) {
		t.Fatalf("LISTSCRIPTS = %q", got)
	}
	c.ok(`DELETESCRIPT "c"`)
	for _, want := range []string{`"script activated"`, `"scripts deactivated"`, `"script deleted"`, `"script renamed"`} {
		if !strings.Contains(e.logs.String(), want) {
			t.Errorf("no %s in the log:\n%s", want, e.logs)
		}
	}
}

func TestRenameScript(t *testing.T) {
	_, c := loggedIn(t)
	c.ok(`PUTSCRIPT "a" "keep;"`)
	c.ok(`PUTSCRIPT "b" "keep;"`)
	c.expect(`RENAMESCRIPT "a" "b"`, "NO (ALREADYEXISTS)")
	c.expect(`RENAMESCRIPT "x" "y"`, "NO (NONEXISTENT)")
	c.expect(`RENAMESCRIPT "a"`, "NO")
	c.ok(`RENAMESCRIPT "a" "ä"`)
	if got := c.ok("LISTSCRIPTS"); !slices.Equal(got, []string{`"b"`, `"ä"`}) {
		t.Fatalf("LISTSCRIPTS = %q", got)
	}
}

func TestCheckScript(t *testing.T) {
	e, c := loggedIn(t)
	c.ok(fmt.Sprintf("CHECKSCRIPT {%d+}\r\n%s", len(script1), script1))
	c.expect(`CHECKSCRIPT "invalid;"`, `NO "line 3, column 5: unknown command \"invalid\""`)
	c.expect(`CHECKSCRIPT "warn;"`, `OK (WARNINGS) "line 1, column 1: deprecated"`)
	c.expect(`PUTSCRIPT "bad" "invalid;"`, `NO "line 3, column 5: unknown command \"invalid\""`)
	if _, ok := e.scripts.get(1, "bad"); ok {
		t.Fatal("invalid script stored")
	}
	c.expect(`PUTSCRIPT "w" "warn;"`, `OK (WARNINGS) "line 1, column 1: deprecated"`)
	if _, ok := e.scripts.get(1, "w"); !ok {
		t.Fatal("script with warnings not stored")
	}
	c.expect(`CHECKSCRIPT`, "NO")
	c.expect(`CHECKSCRIPT atom`, "NO")
}

func TestQuotas(t *testing.T) {
	e, c := loggedIn(t)
	e.scripts.maxSize = 10
	c.expect(`PUTSCRIPT "a" "keep; keep; keep;"`, "NO (QUOTA/MAXSIZE)")
	c.expect(`HAVESPACE "a" 11`, "NO (QUOTA/MAXSIZE)")
	c.ok(`HAVESPACE "a" 10`)
	for i := range 5 {
		c.ok(fmt.Sprintf(`PUTSCRIPT "s%d" "keep;"`, i))
	}
	c.expect(`PUTSCRIPT "s5" "keep;"`, "NO (QUOTA/MAXSCRIPTS)")
	c.expect(`HAVESPACE "s5" 1`, "NO (QUOTA/MAXSCRIPTS)")
	c.ok(`HAVESPACE "s4" 1`)
	c.ok(`PUTSCRIPT "s4" "stop;"`)
	c.expect(`HAVESPACE "s4" x`, "NO")
	c.expect(`HAVESPACE "s4" "1"`, "NO")
	c.expect(`HAVESPACE "s4" 4294967296`, "NO")
}

func TestInternalError(t *testing.T) {
	e, c := loggedIn(t)
	c.expect(`PUTSCRIPT "a" "explode"`, `NO (TRYLATER) "Internal error, try again later"`)
	if !strings.Contains(e.logs.String(), "disk on fire") {
		t.Errorf("cause not logged:\n%s", e.logs)
	}
	c.ok("NOOP")
}

func TestScriptNames(t *testing.T) {
	e, c := loggedIn(t)
	for _, bad := range []string{
		"", "a\x01b", "a\nb", "a\x7f", "a\u0085", "a\u2028", "a\u2029", "\xff\xfe",
		strings.Repeat("n", maxNameChars+1),
	} {
		c.expect(fmt.Sprintf("PUTSCRIPT {%d+}\r\n%s \"keep;\"", len(bad), bad), `NO "Invalid script name"`)
	}
	// Bad names count toward the bad command limit: start afresh.
	c = e.dial()
	c.login("alice@x", "secret")
	c.ok(`PUTSCRIPT "` + strings.Repeat("ü", maxNameChars) + `" "keep;"`)
	// Quotes and backslashes are fine in names and are escaped back.
	c.ok(`PUTSCRIPT "say \"hi\" \\o/" "keep;"`)
	got := c.ok("LISTSCRIPTS")
	if !slices.Contains(got, `"say \"hi\" \\o/"`) {
		t.Fatalf("LISTSCRIPTS = %q", got)
	}
	c.ok(`GETSCRIPT "say \"hi\" \\o/"`)
	c.expect(`GETSCRIPT ""`, `NO "Invalid script name"`)
	c.expect(`SETACTIVE atom`, "NO")
	c.expect(`DELETESCRIPT`, "NO")
}
