package message

import "testing"

// Cases follow the steps of RFC 5256 §2.1.
func TestBaseSubject(t *testing.T) {
	cases := []struct {
		in, want string
		reply    bool
	}{
		{"hello", "hello", false},
		{"Re: hello", "hello", true},
		{"RE:hello", "hello", true},
		{"re : hello", "hello", true},                // *WSP before ":"
		{"Fw: hello", "hello", true},                 // "fw"
		{"FWD: hello", "hello", true},                // "fwd"
		{"Re[2]: hello", "hello", true},              // subj-blob inside subj-refwd
		{"Re: Re: Re: hello", "hello", true},         // repeated leaders
		{"[list] Re: hello", "hello", true},          // blob before refwd
		{"[list] hello", "hello", false},             // step 4: leading blob
		{"[list]", "[list]", false},                  // step 4: not when nothing would remain
		{"[a][b] Re: [c] hello", "hello", true},      // blobs and leaders repeated
		{"hello (fwd)", "hello", true},               // step 2 trailer
		{"hello (FWD) (fwd)  ", "hello", true},       // repeated trailers and WSP
		{"[Fwd: Re: hello]", "hello", true},          // step 6 wrapper
		{"[fwd: [fwd: hello (fwd)]]", "hello", true}, // nested wrappers, back to step 2
		{"  hello\t  world  ", "hello world", false}, // step 1 whitespace
		{"Reply: hello", "Reply: hello", false},      // "re" must be followed by WSP, blob or ":"
		{"Re:", "", true},                            // empty base
		{"[broken hello", "[broken hello", false},    // no closing bracket: no blob
		{"Re: [fwd: hello]", "hello", true},          // leader then wrapper
		{"Re: Ünïcödé", "Ünïcödé", true},             // decoded text passes through
		{"Fwd: Re: [x] Fw[y]: (fwd)", "", true},      // nothing left
	}
	for _, c := range cases {
		got, reply := BaseSubject(c.in)
		if got != c.want || reply != c.reply {
			t.Errorf("BaseSubject(%q) = %q, %v; want %q, %v", c.in, got, reply, c.want, c.reply)
		}
	}
}

func FuzzBaseSubject(f *testing.F) {
	for _, s := range []string{"Re: [x] hello (fwd)", "[fwd: Re: a]", "[[[]]]", "Re[", "\t\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, _ := BaseSubject(s)
		if len(b) > maxSubjectLen {
			t.Fatalf("base longer than the bound: %d", len(b))
		}
		// Extraction is idempotent on bases that are not a lone blob.
		if b2, _ := BaseSubject(b); b2 != b && subjBlobLen(b) == 0 {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, b, b2)
		}
	})
}
