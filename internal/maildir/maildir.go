// Package maildir reads a mailbox tree in the Maildir++ layout, Dovecot's
// default (and Courier's): the root is the inbox, each other folder a
// directory ".Name" beside cur/, new/ and tmp/, its hierarchy separated by
// dots (".Archive.2024" is Archive/2024) and its name in IMAP's modified
// UTF-7. A message is a file of cur/ or new/; its flags follow ":2," in
// its name (S seen, R answered, F flagged, T deleted, D draft, and a to z
// the keywords of the folder's dovecot-keywords file); the time it arrived
// is its modification time.
package maildir

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"postern/internal/mutf7"
	"postern/internal/store"
)

// Folder is one mailbox of the tree.
type Folder struct {
	Name string // UTF-8, "/" between levels; "INBOX" for the root
	Dir  string
}

// Message is one message file of a folder.
type Message struct {
	Path     string
	Flags    store.Flags
	Keywords []string
	Received time.Time
	Size     int64
}

// IsMaildir tells whether dir has the cur and new directories of a Maildir.
func IsMaildir(dir string) bool {
	for _, sub := range []string{"cur", "new"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// Folders lists the root and its Maildir++ folders, parents before their
// children. A folder whose name is not valid modified UTF-7 keeps its
// name as it is.
func Folders(root string) ([]Folder, error) {
	if !IsMaildir(root) {
		return nil, fmt.Errorf("maildir: %s has no cur and new directories", root)
	}
	out := []Folder{{Name: "INBOX", Dir: root}}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || len(name) < 2 || name[0] != '.' || name == ".." {
			continue
		}
		dir := filepath.Join(root, name)
		if !IsMaildir(dir) {
			continue
		}
		parts := strings.Split(name[1:], ".")
		for i, p := range parts {
			if d, err := mutf7.Decode(p); err == nil {
				parts[i] = d
			}
		}
		if slices.Contains(parts, "") {
			continue // "..x" or ".x.": not a folder name
		}
		out = append(out, Folder{Name: strings.Join(parts, "/"), Dir: dir})
	}
	sort.SliceStable(out[1:], func(i, j int) bool { return out[1+i].Name < out[1+j].Name })
	return out, nil
}

// Keywords reads a folder's dovecot-keywords file: the keyword of each
// letter, a first ("0 $Label1"). A folder without the file has none.
func Keywords(dir string) ([26]string, error) {
	var kw [26]string
	f, err := os.Open(filepath.Join(dir, "dovecot-keywords"))
	if errors.Is(err, fs.ErrNotExist) {
		return kw, nil
	}
	if err != nil {
		return kw, fmt.Errorf("maildir: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		num, name, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		i, err := strconv.Atoi(num)
		if !ok || err != nil || i < 0 || i >= len(kw) || strings.TrimSpace(name) == "" {
			continue
		}
		kw[i] = strings.TrimSpace(name)
	}
	return kw, sc.Err()
}

// Messages lists the messages of a folder, oldest first.
func Messages(f Folder) ([]Message, error) {
	kw, err := Keywords(f.Dir)
	if err != nil {
		return nil, err
	}
	var out []Message
	for _, sub := range []string{"cur", "new"} {
		entries, err := os.ReadDir(filepath.Join(f.Dir, sub))
		if err != nil {
			return nil, fmt.Errorf("maildir: %w", err)
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue // gone meanwhile
			}
			m := Message{Path: filepath.Join(f.Dir, sub, e.Name()), Received: fi.ModTime(), Size: fi.Size()}
			if sub == "cur" {
				m.Flags, m.Keywords = parseInfo(e.Name(), kw)
			}
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Received.Equal(out[j].Received) {
			return out[i].Received.Before(out[j].Received)
		}
		return out[i].Path < out[j].Path
	})
	return out, nil
}

// parseInfo reads the flags after ":2," in a file name.
func parseInfo(name string, kw [26]string) (store.Flags, []string) {
	i := strings.LastIndex(name, ":2,")
	if i < 0 {
		return 0, nil
	}
	var flags store.Flags
	var keywords []string
	for _, c := range name[i+3:] {
		switch {
		case c == 'S':
			flags |= store.FlagSeen
		case c == 'R':
			flags |= store.FlagAnswered
		case c == 'F':
			flags |= store.FlagFlagged
		case c == 'T':
			flags |= store.FlagDeleted
		case c == 'D':
			flags |= store.FlagDraft
		case c >= 'a' && c <= 'z' && kw[c-'a'] != "":
			keywords = append(keywords, kw[c-'a'])
		}
	}
	return flags, keywords
}

// CRLF returns msg with every line ending CRLF: Maildir files end their
// lines with LF alone, IMAP and the store's readers want CRLF.
func CRLF(msg []byte) []byte {
	n := bytes.Count(msg, []byte("\n")) - bytes.Count(msg, []byte("\r\n"))
	if n == 0 {
		return msg
	}
	out := make([]byte, 0, len(msg)+n)
	for i, c := range msg {
		if c == '\n' && (i == 0 || msg[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}
