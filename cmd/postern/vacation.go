package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"postern/internal/admin"
	"postern/internal/store"
)

const vacationUsage = "postern -c FILE vacation ADDRESS [on|off] [--from DATE] [--to DATE] [--subject TEXT] [--text FILE] [--html FILE]" +
	"   (DATE: 2006-01-02, \"2006-01-02 15:04\" local time, or RFC 3339; \"\" clears it; FILE - reads standard input)"

// optFlag is a string flag that knows whether it was given.
type optFlag struct {
	v   string
	set bool
}

func (o *optFlag) String() string     { return o.v }
func (o *optFlag) Set(s string) error { o.v, o.set = s, true; return nil }

// cmdVacation is `postern vacation`: an account's vacation response, the
// same setting as the webmail's (JMAP VacationResponse). Without on or off
// it shows the setting; flags change only what they name.
func cmdVacation(e *env, args []string) error {
	fs := newFlags(e, "vacation", vacationUsage)
	var from, to, subject, text, html optFlag
	fs.Var(&from, "from", "first day (or time) replies go out")
	fs.Var(&to, "to", "the day (or time) replies stop")
	fs.Var(&subject, "subject", "the replies' subject (default: Auto: and the message's)")
	fs.Var(&text, "text", "file with the reply's text")
	fs.Var(&html, "html", "file with the reply's HTML")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 || len(pos) == 2 && pos[1] != "on" && pos[1] != "off" {
		fs.Usage()
		return usageError{"vacation: give ADDRESS, then on or off"}
	}
	return withService(e, func(ctx context.Context, svc *admin.Service) error {
		v, err := svc.Vacation(ctx, pos[0])
		if err != nil {
			return err
		}
		changed := len(pos) == 2
		if changed {
			v.Enabled = pos[1] == "on"
		}
		for _, d := range []struct {
			f *optFlag
			t *time.Time
		}{{&from, &v.From}, {&to, &v.To}} {
			if d.f.set {
				if *d.t, err = parseVacationDate(d.f.v); err != nil {
					return err
				}
				changed = true
			}
		}
		for _, t := range []struct {
			f    *optFlag
			s    **string
			file bool
		}{{&subject, &v.Subject, false}, {&text, &v.TextBody, true}, {&html, &v.HTMLBody, true}} {
			if !t.f.set {
				continue
			}
			changed = true
			if *t.s, err = vacationText(e, t.f.v, t.file); err != nil {
				return err
			}
		}
		if changed {
			if v, err = svc.SetVacation(ctx, pos[0], v); err != nil {
				return err
			}
		}
		printVacation(e, v)
		return nil
	})
}

// vacationText reads a text flag: "" clears it, a file flag names a file.
func vacationText(e *env, val string, file bool) (*string, error) {
	if val == "" {
		return nil, nil
	}
	if !file {
		return &val, nil
	}
	b, err := readScript(e, val) // the same bounded read as a script's
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
}

func parseVacationDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, usageError{fmt.Sprintf("vacation: %q is not a date (2006-01-02, \"2006-01-02 15:04\" or RFC 3339)", s)}
}

func printVacation(e *env, v store.Vacation) {
	fmt.Fprintf(e.stdout, "state\t%s\n", admin.VacationState(v, time.Now()))
	show := func(name string, s *string) {
		if s != nil {
			fmt.Fprintf(e.stdout, "%s\t%q\n", name, *s)
		}
	}
	if !v.From.IsZero() {
		fmt.Fprintf(e.stdout, "from\t%s\n", v.From.Local().Format("2006-01-02 15:04 MST"))
	}
	if !v.To.IsZero() {
		fmt.Fprintf(e.stdout, "to\t%s\n", v.To.Local().Format("2006-01-02 15:04 MST"))
	}
	show("subject", v.Subject)
	show("text", v.TextBody)
	show("html", v.HTMLBody)
}

var _ flag.Value = (*optFlag)(nil)
