package managesieve

import (
	"context"
	"errors"
	"strconv"
	"unicode/utf8"
)

// maxNameChars is the longest script name, in characters: RFC 5804 §1.6
// asks servers to allow at least 128.
const maxNameChars = 128

// validName reports whether name is a script name by RFC 5804 §1.6: UTF-8
// of 1 to maxNameChars characters, none of them a control character
// (U+0000-001F, U+007F-009F) or a line or paragraph separator (U+2028,
// U+2029).
func validName(name string) bool {
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxNameChars {
		return false
	}
	for _, r := range name {
		if r <= 0x1f || (r >= 0x7f && r <= 0x9f) || r == 0x2028 || r == 0x2029 {
			return false
		}
	}
	return true
}

// authCommands maps the commands of the authenticated state (RFC 5804
// §2) to their handlers.
var authCommands = map[string]func(*session, command) error{
	"LISTSCRIPTS":    (*session).cmdListScripts,
	"GETSCRIPT":      (*session).cmdGetScript,
	"PUTSCRIPT":      (*session).cmdPutScript,
	"CHECKSCRIPT":    (*session).cmdCheckScript,
	"SETACTIVE":      (*session).cmdSetActive,
	"DELETESCRIPT":   (*session).cmdDeleteScript,
	"RENAMESCRIPT":   (*session).cmdRenameScript,
	"HAVESPACE":      (*session).cmdHaveSpace,
	"UNAUTHENTICATE": (*session).cmdUnauthenticate,
}

var errBadName = badCmd("Invalid script name")

// nameArgs checks that c has exactly n string arguments and returns them;
// names (all but a script body) are checked by validName.
func nameArgs(c command, n int, usage string) ([]string, error) {
	if len(c.Args) != n {
		return nil, badCmd("Usage: " + usage)
	}
	out := make([]string, n)
	for i, a := range c.Args {
		if !a.isString() {
			return nil, badCmd("Usage: " + usage)
		}
		out[i] = string(a.val)
	}
	return out, nil
}

func (s *session) scripts() (Scripts, context.Context, int64) {
	return s.srv.cfg.Scripts, s.ctx, s.account.ID
}

// cmdListScripts lists the scripts, the active one marked (RFC 5804 §2.7).
func (s *session) cmdListScripts(c command) error {
	if len(c.Args) != 0 {
		return badCmd("Usage: LISTSCRIPTS")
	}
	sc, ctx, id := s.scripts()
	list, err := sc.ListScripts(ctx, id)
	if err != nil {
		return s.scriptError("LISTSCRIPTS", err)
	}
	for _, si := range list {
		s.buf = appendString(s.buf[:0], si.Name)
		if si.Active {
			s.buf = append(s.buf, " ACTIVE"...)
		}
		s.buf = append(s.buf, "\r\n"...)
		_, _ = s.w.Write(s.buf)
	}
	s.respond("OK", "", "Listscripts completed")
	return nil
}

// cmdGetScript sends a script as a literal (RFC 5804 §2.9).
func (s *session) cmdGetScript(c command) error {
	args, err := nameArgs(c, 1, "GETSCRIPT name")
	if err != nil {
		return err
	}
	if !validName(args[0]) {
		return errBadName
	}
	sc, ctx, id := s.scripts()
	src, err := sc.GetScript(ctx, id, args[0])
	if err != nil {
		return s.scriptError("GETSCRIPT", err)
	}
	s.buf = append(s.buf[:0], '{')
	s.buf = strconv.AppendInt(s.buf, int64(len(src)), 10)
	s.buf = append(s.buf, "}\r\n"...)
	_, _ = s.w.Write(s.buf)
	_, _ = s.w.Write(src)
	_, _ = s.w.WriteString("\r\n")
	s.respond("OK", "", "Getscript completed")
	return nil
}

// cmdPutScript stores a script after the checker accepted it (RFC 5804
// §2.6).
func (s *session) cmdPutScript(c command) error {
	if len(c.Args) != 2 || !c.Args[0].isString() || !c.Args[1].isString() {
		return badCmd("Usage: PUTSCRIPT name script")
	}
	name, src := string(c.Args[0].val), c.Args[1].val
	if !validName(name) {
		return errBadName
	}
	if int64(len(src)) > s.srv.cfg.MaxScriptSize {
		return no("QUOTA/MAXSIZE", "Script too large")
	}
	sc, ctx, id := s.scripts()
	err := sc.PutScript(ctx, id, name, src)
	if w, ok := warnings(err); ok {
		s.log.Info("script stored", "user", s.user(), "script", name, "size", len(src), "warnings", true)
		s.respond("OK", "WARNINGS", w)
		return nil
	}
	if err != nil {
		return s.scriptError("PUTSCRIPT", err)
	}
	s.log.Info("script stored", "user", s.user(), "script", name, "size", len(src))
	s.respond("OK", "", "Putscript completed")
	return nil
}

// cmdCheckScript compiles a script without storing it (RFC 5804 §2.12).
func (s *session) cmdCheckScript(c command) error {
	if len(c.Args) != 1 || !c.Args[0].isString() {
		return badCmd("Usage: CHECKSCRIPT script")
	}
	src := c.Args[0].val
	if int64(len(src)) > s.srv.cfg.MaxScriptSize {
		return no("QUOTA/MAXSIZE", "Script too large")
	}
	sc, ctx, id := s.scripts()
	err := sc.CheckScript(ctx, id, src)
	if w, ok := warnings(err); ok {
		s.respond("OK", "WARNINGS", w)
		return nil
	}
	if err != nil {
		return s.scriptError("CHECKSCRIPT", err)
	}
	s.respond("OK", "", "Script is valid")
	return nil
}

// cmdSetActive activates a script, or deactivates all with "" (RFC 5804
// §2.8).
func (s *session) cmdSetActive(c command) error {
	args, err := nameArgs(c, 1, "SETACTIVE name")
	if err != nil {
		return err
	}
	name := args[0]
	if name != "" && !validName(name) {
		return errBadName
	}
	sc, ctx, id := s.scripts()
	if err := sc.SetActive(ctx, id, name); err != nil {
		return s.scriptError("SETACTIVE", err)
	}
	if name == "" {
		s.log.Info("scripts deactivated", "user", s.user())
	} else {
		s.log.Info("script activated", "user", s.user(), "script", name)
	}
	s.respond("OK", "", "Setactive completed")
	return nil
}

// cmdDeleteScript deletes a script; the active one is refused behind
// Scripts with ErrActive (RFC 5804 §2.10).
func (s *session) cmdDeleteScript(c command) error {
	args, err := nameArgs(c, 1, "DELETESCRIPT name")
	if err != nil {
		return err
	}
	if !validName(args[0]) {
		return errBadName
	}
	sc, ctx, id := s.scripts()
	if err := sc.DeleteScript(ctx, id, args[0]); err != nil {
		return s.scriptError("DELETESCRIPT", err)
	}
	s.log.Info("script deleted", "user", s.user(), "script", args[0])
	s.respond("OK", "", "Deletescript completed")
	return nil
}

// cmdRenameScript renames a script, the active one staying active
// (RFC 5804 §2.11.1).
func (s *session) cmdRenameScript(c command) error {
	args, err := nameArgs(c, 2, "RENAMESCRIPT old-name new-name")
	if err != nil {
		return err
	}
	if !validName(args[0]) || !validName(args[1]) {
		return errBadName
	}
	sc, ctx, id := s.scripts()
	if err := sc.RenameScript(ctx, id, args[0], args[1]); err != nil {
		return s.scriptError("RENAMESCRIPT", err)
	}
	s.log.Info("script renamed", "user", s.user(), "script", args[0], "to", args[1])
	s.respond("OK", "", "Renamescript completed")
	return nil
}

// cmdHaveSpace asks whether a script of a size would fit (RFC 5804 §2.5).
func (s *session) cmdHaveSpace(c command) error {
	const usage = "Usage: HAVESPACE name size"
	if len(c.Args) != 2 || !c.Args[0].isString() || c.Args[1].kind != argAtom {
		return badCmd(usage)
	}
	name := string(c.Args[0].val)
	size, ok := parseNumber(c.Args[1].val)
	if !ok {
		return badCmd(usage)
	}
	if !validName(name) {
		return errBadName
	}
	if size > s.srv.cfg.MaxScriptSize {
		return no("QUOTA/MAXSIZE", "Script too large")
	}
	sc, ctx, id := s.scripts()
	if err := sc.HaveSpace(ctx, id, name, size); err != nil {
		return s.scriptError("HAVESPACE", err)
	}
	s.respond("OK", "", "Putscript would succeed")
	return nil
}

// parseNumber parses RFC 5804 §4 number: decimal digits, below 2^32.
func parseNumber(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, v < 1<<32
}

// warnings reports whether err says the script was accepted with
// warnings, and their text.
func warnings(err error) (string, bool) {
	var w interface {
		error
		ScriptWarnings() bool
	}
	if errors.As(err, &w) && w.ScriptWarnings() {
		return w.Error(), true
	}
	return "", false
}

// scriptError turns an error of Scripts into the response RFC 5804 §1.3
// gives it; see the package documentation for the contract.
func (s *session) scriptError(cmd string, err error) error {
	var inv interface {
		error
		InvalidScript() bool
	}
	switch {
	case errors.As(err, &inv) && inv.InvalidScript():
		return no("", inv.Error())
	case errors.Is(err, ErrNotFound):
		return no("NONEXISTENT", "There is no script by that name")
	case errors.Is(err, ErrExists):
		return no("ALREADYEXISTS", "A script by that name already exists")
	case errors.Is(err, ErrActive):
		return no("ACTIVE", "The active script cannot be deleted")
	case errors.Is(err, ErrQuotaScripts):
		return no("QUOTA/MAXSCRIPTS", "Too many scripts")
	case errors.Is(err, ErrQuotaSize):
		return no("QUOTA/MAXSIZE", "Script too large")
	case errors.Is(err, ErrQuota):
		return no("QUOTA", "Quota exceeded")
	case errors.Is(err, ErrInvalidName):
		return no("", "Invalid script name")
	}
	s.log.Error("script operation failed", "cmd", cmd, "user", s.user(), "err", err)
	return no("TRYLATER", "Internal error, try again later")
}
