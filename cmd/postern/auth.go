package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"text/tabwriter"
	"time"

	"postern/internal/app"
	"postern/internal/config"
)

// cmdAuth shows and lifts the login throttle of the running server. The
// throttle lives in the server's memory, so these commands talk to it over
// the control socket in the data directory rather than to the database.
func cmdAuth(e *env, args []string) error {
	const usage = "postern -c FILE auth status | unblock ADDRESS|IP"
	if len(args) == 0 {
		return usageError{"usage: " + usage}
	}
	switch args[0] {
	case "status":
		fs := newFlags(e, "auth status", "postern -c FILE auth status")
		pos, err := parseFlags(fs, args[1:])
		if err != nil {
			return err
		}
		if err := wantArgs(fs, pos, 0); err != nil {
			return err
		}
		return authStatus(e)
	case "unblock":
		fs := newFlags(e, "auth unblock", "postern -c FILE auth unblock ADDRESS|IP")
		pos, err := parseFlags(fs, args[1:])
		if err != nil {
			return err
		}
		if err := wantArgs(fs, pos, 1); err != nil {
			return err
		}
		return authUnblock(e, pos[0])
	}
	return usageError{fmt.Sprintf("unknown auth command %q; usage: %s", args[0], usage)}
}

func controlClient(e *env) (*http.Client, string, error) {
	cfg, err := config.Load(e.configPath)
	if err != nil {
		return nil, "", err
	}
	path := cfg.DataPath(app.ControlSocket)
	return app.ControlClient(path), path, nil
}

// controlCall sends one request and decodes the answer into out.
func controlCall(e *env, method, path string, body, out any) error {
	c, sock, err := controlClient(e)
	if err != nil {
		return err
	}
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, "http://postern"+path, rd)
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the running server at %s (is postern serve running on this config?): %w", sock, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var fail struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&fail)
		if fail.Error == "" {
			fail.Error = resp.Status
		}
		return errors.New(fail.Error)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func authStatus(e *env) error {
	var keys []app.ThrottledJSON
	if err := controlCall(e, http.MethodGet, "/auth/throttled", nil, &keys); err != nil {
		return err
	}
	if len(keys) == 0 {
		fmt.Fprintln(e.stdout, "no login source is throttled")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tACCOUNT\tFAILURES\tUNTIL")
	for _, k := range keys {
		account := k.Account
		if account == "" {
			account = "(any)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", k.Source, account, k.Failures, k.Until.Local().Format(time.DateTime))
	}
	return tw.Flush()
}

func authUnblock(e *env, target string) error {
	var res struct{ Cleared int }
	if err := controlCall(e, http.MethodPost, "/auth/unblock", map[string]string{"target": target}, &res); err != nil {
		return err
	}
	if res.Cleared == 0 {
		fmt.Fprintf(e.stdout, "%s was not throttled\n", target)
		return nil
	}
	fmt.Fprintf(e.stdout, "unblocked %s (%d throttle entries cleared)\n", target, res.Cleared)
	return nil
}
