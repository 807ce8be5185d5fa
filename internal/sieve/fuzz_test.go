package sieve

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func corpusScripts(f *testing.F) []string {
	files, _ := filepath.Glob("testdata/corpus/*.txtar")
	var out []string
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		c, err := parseCase(filepath.Base(name), string(b))
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, c.script)
	}
	return out
}

// FuzzCompile: the parser and validator never panic or hang, and what
// compiles runs within its limits.
func FuzzCompile(f *testing.F) {
	for _, s := range corpusScripts(f) {
		f.Add(s)
	}
	for _, s := range []string{
		"", "{", "}", "if", "text:", "text:\n", "\"\\", "/*", "[\"a\",", "require [", ":",
		"if not not not true {}", "require \"variables\"; set \"a\" \"${a${b}}\";",
		"require \"encoded-character\"; keep \"${hex:zz}${unicode:110000}\";",
	} {
		f.Add(s)
	}
	inc := func(name string, global bool) ([]byte, error) {
		if name == "a" {
			return []byte(`require "include"; include :once "a"; keep;`), nil
		}
		return nil, ErrScriptNotFound
	}
	f.Fuzz(func(t *testing.T, src string) {
		s, err := Compile([]byte(src), Options{MaxSteps: 2000, Include: inc})
		if err != nil {
			if e, ok := err.(*Error); ok && (e.Line < 1 || e.Column < 1) {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		env := testEnv()
		s.Run(context.Background(), env)
	})
}

// FuzzRun: any message, through scripts using every test.
func FuzzRun(f *testing.F) {
	f.Add([]byte(testMsg))
	f.Add([]byte("From: a\r\n\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/html\r\n\r\n<p>a\r\n--x--\r\n"))
	f.Add([]byte("To: undisclosed:;, \"a,b\" <@r:c@d>, (x) e@f (y)\r\nDate: Mon, 1 Jan 99 00:00 PST\r\n\r\n"))
	script := mustCompile(f, `require ["body","date","index","relational","comparator-i;ascii-numeric","variables","regex","editheader","imap4flags","envelope","subaddress","duplicate"];
if address :matches ["to","from","cc"] "*@*" { set "a" "${1}"; }
if address :detail :contains "to" "x" { addflag "d"; }
if header :regex "subject" "(.*)-(.*)" { set "b" "${2}"; }
if header :count "gt" :comparator "i;ascii-numeric" "received" "3" { addflag "many"; }
if date :value "ge" :comparator "i;ascii-numeric" "date" "year" "2000" { addflag "new"; }
if date :index 1 :last "received" "julian" "1" { keep; }
if body :text :contains "a" { addflag "body"; }
if body :raw :matches "*x*y*" { addflag "raw"; }
deleteheader :index 1 "to";
addheader "X-Sieve" "${a}";
if duplicate :header "message-id" { discard; }
`)
	f.Fuzz(func(t *testing.T, msg []byte) {
		env := testEnv()
		env.Message = rawMsg(msg)
		res, err := script.Run(context.Background(), env)
		if err != nil {
			return
		}
		if _, err := ApplyHeaderEdits(msg, res.HeaderEdits); err != nil && len(msg) > 0 {
			return
		}
	})
}
