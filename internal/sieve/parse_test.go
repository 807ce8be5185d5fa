package sieve

import (
	"errors"
	"strings"
	"testing"
)

func TestCompileErrorPositions(t *testing.T) {
	tests := []struct {
		src        string
		line, col  int
		msgContain string
	}{
		{`fileint "x";`, 1, 1, `unknown command "fileint"`},
		{"keep;\n\n    fileint \"x\";", 3, 5, `unknown command "fileint"`},
		{`require "fileinto"; fileinto "a" "b";`, 1, 34, "positional"},
		{`keep`, 1, 5, "expected ';'"},
		{`if true { keep; `, 1, 17, "expected '}'"},
		{`redirect "a@b.c`, 1, 10, "unterminated string"},
		{"keep; /* never closed", 1, 7, "unterminated comment"},
		{`if size :over 99999999999999999999 { keep; }`, 1, 15, "number too large"},
		{`if size :over 100Q { keep; }`, 1, 18, "after number"},
		{"require \"reject\";\nreject text: junk\n.\n;", 2, 8, "end of line"},
		{"require \"reject\";\nreject text:\nno end\n", 2, 8, "unterminated multi-line"},
		{`require "x-nothing";`, 1, 9, `unknown extension "x-nothing"`},
		{`fileinto "x";`, 1, 1, `needs require "fileinto"`},
		{`keep; require "fileinto";`, 1, 7, "require must come before"},
		{`else { keep; }`, 1, 1, "without a preceding if"},
		{`if header :is :contains "a" "b" { keep; }`, 1, 15, "cannot be combined"},
		{`if header :comparator "i;nope" "a" "b" { keep; }`, 1, 23, "unknown comparator"},
		{`if header :comparator "i;ascii-numeric" "a" "b" { keep; }`, 1, 23, "comparator-i;ascii-numeric"},
		{`if true keep;`, 1, 9, `"true" takes no test`},
		{`if allof true { keep; }`, 1, 4, "list of tests"},
		{`if true;`, 1, 1, "needs a block"},
		{`keep { }`, 1, 1, "takes no block"},
		{`if (true) { keep; }`, 1, 1, "exactly one test"},
		{`if allof() { keep; }`, 1, 10, "expected a test"},
		{`if keep { keep; }`, 1, 4, "is a command, not a test"},
		{`true;`, 1, 1, "is a test, not a command"},
		{`if header :foo "a" "b" { keep; }`, 1, 11, `unknown tag ":foo"`},
		{`redirect "no address";`, 1, 10, "invalid address"},
		{`require "variables"; set "1a" "x";`, 1, 26, "invalid variable name"},
		{`require "relational"; if header :value "xx" "a" "b" { keep; }`, 1, 40, "relational operator"},
		{`require "regex"; if header :regex "a" "(" { keep; }`, 1, 39, "regular expression"},
		{`require "index"; if header :last "a" "b" { keep; }`, 1, 28, ":last needs :index"},
		{`if address "subject" "x" { keep; }`, 1, 12, "does not hold addresses"},
		{`require "envelope"; if envelope "body" "x" { keep; }`, 1, 33, "unknown envelope part"},
		{`require "include"; include "x";`, 1, 20, "not available"},
		{`require "encoded-character"; redirect "${unicode:D800}@x.y";`, 1, 39, "invalid unicode"},
		{`if size 10 { keep; }`, 1, 4, ":over or :under"},
		{`require "editheader"; addheader "Bad Name" "x";`, 1, 33, "invalid header field name"},
		{`if header :is "a" { keep; }`, 1, 15, "positional"},
		{`$`, 1, 1, "unexpected character"},
	}
	for _, tt := range tests {
		_, err := Compile([]byte(tt.src), Options{})
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%q: error %v, want *Error", tt.src, err)
			continue
		}
		if e.Line != tt.line || e.Column != tt.col || !strings.Contains(e.Msg, tt.msgContain) {
			t.Errorf("%q: got %q, want line %d, column %d, containing %q", tt.src, e.Error(), tt.line, tt.col, tt.msgContain)
		}
	}
}

func TestErrorString(t *testing.T) {
	_, err := Compile([]byte("keep;\nif true {\n  keep;\n}\n    fileint \"x\";\n"), Options{})
	want := `line 5, column 5: unknown command "fileint"`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestCompileAccepts(t *testing.T) {
	for _, src := range []string{
		"",
		"# only a comment",
		"/* only */",
		"keep;",
		"KEEP;",
		"require [\"fileinto\", \"reject\"]; require \"envelope\";\nfileinto \"x\";",
		"if size :over 1k { discard; } elsif size :under 2G { keep; } else { stop; }",
		"require \"reject\";\nreject text: # comment\nline\n..dot\n.\n;",
		"require \"reject\";\r\nreject text:\r\nline\r\n.\r\n;\r\n",
		"if anyof(true,false,not true) {}",
		"if header :contains [\"a\",\"b\"] [\"c\"] {}",
		"require \"include\"; return;",
		"require [\"variables\",\"include\"]; global [\"a\",\"b\"]; set \"global.c\" \"x\";",
		"require \"vacation-seconds\"; vacation :seconds 60 \"x\";",
		"require [\"editheader\",\"index\"]; deleteheader :index 1 :last \"x-a\"; deleteheader :contains \"x-b\" \"v\";",
		"require \"date\"; if currentdate :zone \"-0800\" \"hour\" \"12\" {}",
		"require \"duplicate\"; if duplicate :handle \"h\" :header \"x-id\" :seconds 10 :last {}",
		"require [\"mailbox\", \"fileinto\"]; if mailboxexists \"a\" { fileinto :create \"a\"; }",
	} {
		if _, err := Compile([]byte(src), Options{}); err != nil {
			t.Errorf("%q: %v", src, err)
		}
	}
}

func TestCompileLimits(t *testing.T) {
	deep := strings.Repeat("if true {", 40) + strings.Repeat("}", 40)
	if _, err := Compile([]byte(deep), Options{}); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("deep blocks: %v", err)
	}
	deepTests := "if " + strings.Repeat("not ", 40) + "true {}"
	if _, err := Compile([]byte(deepTests), Options{}); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("deep tests: %v", err)
	}
	if _, err := Compile([]byte(strings.Repeat("keep;", 300)), Options{MaxScriptSize: 1000}); err == nil {
		t.Error("script over MaxScriptSize compiled")
	}
	long := "if header :is \"a\" [" + strings.Repeat("\"x\",", 10001) + "\"y\"] {}"
	if _, err := Compile([]byte(long), Options{}); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("long list: %v", err)
	}
}

func TestExtensionsOption(t *testing.T) {
	_, err := Compile([]byte(`require "fileinto"; fileinto "x";`), Options{Extensions: []string{"envelope"}})
	if err == nil || !strings.Contains(err.Error(), "unknown extension") {
		t.Errorf("disabled extension: %v", err)
	}
	if _, err := Compile([]byte(`require "fileinto"; fileinto "x";`), Options{Extensions: []string{"fileinto"}}); err != nil {
		t.Error(err)
	}
	got := strings.Join(Extensions(), " ")
	want := "body comparator-i;ascii-numeric copy date duplicate editheader encoded-character envelope ereject fileinto imap4flags include index mailbox regex reject relational subaddress vacation vacation-seconds variables"
	if got != want {
		t.Errorf("Extensions() = %q\nwant %q", got, want)
	}
}

func TestInclude(t *testing.T) {
	scripts := map[string]string{
		"a":    `require "include"; include "b";`,
		"b":    `require "include"; include "c";`,
		"c":    `require "include"; include "d";`,
		"d":    `require "include"; include "e";`,
		"e":    `require "include"; include "f";`,
		"f":    `keep;`,
		"self": `require "include"; include "self";`,
		"bad":  `fileint "x";`,
	}
	opts := Options{Include: func(name string, global bool) ([]byte, error) {
		if s, ok := scripts[name]; ok && !global {
			return []byte(s), nil
		}
		return nil, ErrScriptNotFound
	}}
	if _, err := Compile([]byte(`require "include"; include "b";`), opts); err != nil {
		t.Errorf("depth 5: %v", err)
	}
	if _, err := Compile([]byte(`require "include"; include "a";`), opts); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("depth 6: %v", err)
	}
	if _, err := Compile([]byte(`require "include"; include "self";`), opts); err == nil || !strings.Contains(err.Error(), "includes itself") {
		t.Errorf("self include: %v", err)
	}
	_, err := Compile([]byte(`require "include"; include "bad";`), opts)
	var e *Error
	if !errors.As(err, &e) || e.Script != "bad" || e.Line != 1 || e.Column != 1 {
		t.Errorf("error in included script: %v", err)
	}
	if _, err := Compile([]byte(`require "include"; include :global "f";`), opts); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing global: %v", err)
	}
	loadErr := errors.New("disk on fire")
	_, err = Compile([]byte(`require "include"; include "x";`), Options{Include: func(string, bool) ([]byte, error) { return nil, loadErr }})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("load error: %v", err)
	}
}
