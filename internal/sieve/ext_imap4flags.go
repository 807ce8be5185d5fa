package sieve

import (
	"strings"
)

// imap4flags (RFC 5232): the internal flags variable, setflag, addflag,
// removeflag, hasflag and :flags.

// normalizeFlags splits flag lists at spaces and drops repeats, case
// insensitively, keeping the first spelling (RFC 5232 §3).
func normalizeFlags(lists []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range lists {
		for _, f := range strings.Fields(l) {
			k := strings.ToLower(f)
			if !seen[k] {
				seen[k] = true
				out = append(out, f)
			}
		}
	}
	return out
}

func mergeFlags(a, b []string) []string {
	return normalizeFlags(append(append([]string(nil), a...), b...))
}

func removeFlags(from, drop []string) []string {
	gone := map[string]bool{}
	for _, f := range drop {
		gone[strings.ToLower(f)] = true
	}
	var out []string
	for _, f := range from {
		if !gone[strings.ToLower(f)] {
			out = append(out, f)
		}
	}
	return out
}

func (r *runner) flagList(v val) []string { return normalizeFlags(r.expandList(v)) }

// editFlags runs setflag, addflag and removeflag, on the internal
// variable or on the named variables.
func (r *runner) editFlags(n *node) error {
	list := r.flagList(n.args[len(n.args)-1])
	apply := func(cur []string) []string {
		switch n.name {
		case "setflag":
			return list
		case "addflag":
			return mergeFlags(cur, list)
		}
		return removeFlags(cur, list)
	}
	if len(n.args) == 1 {
		r.flags = apply(r.flags)
		return nil
	}
	for _, s := range n.args[0].strs {
		name := strings.ToLower(s.lit)
		cur := normalizeFlags([]string{r.getVar(name)})
		r.setVar(name, strings.Join(apply(cur), " "))
	}
	return nil
}

// hasflagValues returns the flags hasflag compares.
func (r *runner) hasflagValues(n *node) []string {
	if len(n.args) == 1 {
		return r.flags
	}
	var lists []string
	for _, s := range n.args[0].strs {
		lists = append(lists, r.getVar(strings.ToLower(s.lit)))
	}
	return normalizeFlags(lists)
}
