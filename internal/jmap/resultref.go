package jmap

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// resultReference is a ResultReference object (RFC 8620 §3.7).
type resultReference struct {
	ResultOf string `json:"resultOf"`
	Name     string `json:"name"`
	Path     string `json:"path"`
}

// parseReference decodes a ResultReference, all three members required.
func parseReference(raw json.RawMessage) (resultReference, bool) {
	var m map[string]*string
	if firstByte(raw) != '{' || json.Unmarshal(raw, &m) != nil || len(m) != 3 ||
		m["resultOf"] == nil || m["name"] == nil || m["path"] == nil {
		return resultReference{}, false
	}
	return resultReference{ResultOf: *m["resultOf"], Name: *m["name"], Path: *m["path"]}, true
}

// resolveReferences replaces every "#name" argument by the value its
// ResultReference points to, giving "name" (RFC 8620 §3.7). Arguments
// without references are returned as they came.
func resolveReferences(args json.RawMessage, done []invocation) (json.RawMessage, error) {
	if !bytes.Contains(args, []byte(`"#`)) {
		return args, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(args, &m); err != nil {
		return nil, NewError(InvalidArguments, "arguments are not an object")
	}
	changed := false
	for key, raw := range m {
		name, ok := strings.CutPrefix(key, "#")
		if !ok {
			continue
		}
		if _, dup := m[name]; dup {
			return nil, NewError(InvalidArguments, "both "+strconv.Quote(name)+" and "+strconv.Quote(key)+" given")
		}
		ref, ok := parseReference(raw)
		if !ok {
			return nil, NewError(InvalidResultRef, strconv.Quote(key)+" is not a ResultReference")
		}
		v, err := resolve(ref, done)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		delete(m, key)
		m[name] = b
		changed = true
	}
	if !changed {
		return args, nil
	}
	return json.Marshal(m)
}

func resolve(ref resultReference, done []invocation) (any, error) {
	for i := range done {
		inv := &done[i]
		if inv.id != ref.ResultOf {
			continue
		}
		// The first response with that id is the one referenced; its name
		// must match (§3.7 steps 1 and 2).
		if inv.name != ref.Name {
			return nil, NewError(InvalidResultRef, "response "+strconv.Quote(ref.ResultOf)+" is "+strconv.Quote(inv.name)+", not "+strconv.Quote(ref.Name))
		}
		if inv.parsed == nil {
			d := json.NewDecoder(bytes.NewReader(inv.args))
			d.UseNumber()
			if err := d.Decode(&inv.parsed); err != nil {
				return nil, err
			}
		}
		v, ok := evalPointer(inv.parsed, ref.Path)
		if !ok {
			return nil, NewError(InvalidResultRef, "path "+strconv.Quote(ref.Path)+" does not resolve")
		}
		return v, nil
	}
	return nil, NewError(InvalidResultRef, "no response with call id "+strconv.Quote(ref.ResultOf))
}

// evalPointer applies a JSON Pointer (RFC 6901) with the JMAP extension of
// RFC 8620 §3.7: on an array, the token "*" applies the rest of the pointer
// to every item and collects the results in order, flattening results that
// are themselves arrays.
func evalPointer(doc any, path string) (any, bool) {
	if path == "" {
		return doc, true
	}
	if path[0] != '/' {
		return nil, false
	}
	return evalTokens(doc, strings.Split(path[1:], "/"))
}

var tokenUnescaper = strings.NewReplacer("~1", "/", "~0", "~")

func evalTokens(v any, tokens []string) (any, bool) {
	for i, tok := range tokens {
		if strings.Contains(tok, "~") {
			if !validEscapes(tok) {
				return nil, false
			}
			tok = tokenUnescaper.Replace(tok)
		}
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[tok]; !ok {
				return nil, false
			}
		case []any:
			if tok == "*" {
				out := make([]any, 0, len(x))
				for _, item := range x {
					r, ok := evalTokens(item, tokens[i+1:])
					if !ok {
						return nil, false
					}
					if arr, isArr := r.([]any); isArr {
						out = append(out, arr...)
					} else {
						out = append(out, r)
					}
				}
				return out, true
			}
			n, ok := arrayIndex(tok, len(x))
			if !ok {
				return nil, false
			}
			v = x[n]
		default:
			return nil, false
		}
	}
	return v, true
}

// validEscapes reports whether every "~" in tok is "~0" or "~1".
func validEscapes(tok string) bool {
	for i := 0; i < len(tok); i++ {
		if tok[i] == '~' && (i+1 == len(tok) || (tok[i+1] != '0' && tok[i+1] != '1')) {
			return false
		}
	}
	return true
}

// arrayIndex parses an RFC 6901 array index: digits, no leading zero.
func arrayIndex(tok string, n int) (int, bool) {
	if tok == "" || len(tok) > 10 || (len(tok) > 1 && tok[0] == '0') {
		return 0, false
	}
	for _, c := range tok {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	i, err := strconv.Atoi(tok)
	if err != nil || i >= n {
		return 0, false
	}
	return i, true
}
