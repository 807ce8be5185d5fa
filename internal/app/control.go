package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"postern/internal/admin"
	"postern/internal/auth"
)

// The control socket: a Unix socket in the data directory through which the
// CLI reaches state that lives only in the server process (today the login
// throttle: `postern auth status` and `postern auth unblock`). Whoever can
// open it can already read the database beside it, so it needs no login of
// its own; it is made mode 0600 and never listens on the network.

// ControlSocket is the socket's file name in the data directory.
const ControlSocket = "control.sock"

// ThrottledJSON is one throttled login source as the control socket lists it.
type ThrottledJSON struct {
	Source   string    `json:"source"`
	Account  string    `json:"account,omitempty"`
	Failures int       `json:"failures"`
	Until    time.Time `json:"until"`
}

type controlServer struct {
	srv *http.Server
}

func newControl(svc *admin.Service, thr *auth.Service, logger *slog.Logger) *controlServer {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth/throttled", func(w http.ResponseWriter, r *http.Request) {
		out := []ThrottledJSON{}
		for _, k := range thr.Throttled() {
			out = append(out, ThrottledJSON(k))
		}
		writeControlJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /auth/unblock", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Target string `json:"target"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
			writeControlJSON(w, http.StatusBadRequest, map[string]string{"error": "a JSON body with target"})
			return
		}
		ctx := admin.WithActor(r.Context(), admin.Actor{Name: "cli"})
		n, err := svc.Unblock(ctx, thr, req.Target)
		if err != nil {
			writeControlJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeControlJSON(w, http.StatusOK, map[string]int{"cleared": n})
	})
	return &controlServer{srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}}
}

func writeControlJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// listenControl opens the socket at path, replacing a file a dead server
// left behind but never one a running server answers on.
func listenControl(path string) (net.Listener, error) {
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another server is running on this data directory", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, nil
}

// Serve and Shutdown make it a service of the app.
func (c *controlServer) Serve(l net.Listener, _ bool) error {
	err := c.srv.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (c *controlServer) Shutdown(ctx context.Context) error { return c.srv.Shutdown(ctx) }

// ControlClient returns an HTTP client that talks to the control socket of
// the server whose data directory holds path; requests go to
// http://postern/... .
func ControlClient(path string) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}},
	}
}
