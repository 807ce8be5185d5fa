package imapd

import "strings"

// cmdIdle implements IDLE (RFC 2177, RFC 9051 §6.3.13): changes are
// pushed as they happen, EXPUNGE included, until the client sends DONE.
func (s *session) cmdIdle(c *command) reply {
	s.sync(true)
	s.w.line("+ idling")
	if s.w.flush() != nil {
		return reply{}
	}
	type lineResult struct {
		line string
		err  error
	}
	done := make(chan lineResult, 1)
	go func() {
		// The only reader while idling; the session goroutine only writes.
		line, err := s.readLine(1024)
		done <- lineResult{line, err}
	}()
	for {
		select {
		case ev := <-s.events:
			s.noteEvent(ev)
			s.sync(true)
			if s.w.flush() != nil {
				return reply{}
			}
		case ev := <-s.sharedEvents:
			s.noteSelectedEvent(ev)
			s.reloadSharedRights()
			s.sync(true)
			if s.w.flush() != nil {
				return reply{}
			}
		case r := <-done:
			if r.err != nil {
				switch {
				case s.isStopping():
					s.bye("server shutting down")
				case isTimeout(r.err):
					s.bye("autologout; idle for too long")
				}
				return reply{}
			}
			if !strings.EqualFold(strings.TrimSpace(r.line), "DONE") {
				return bad("", "expected DONE")
			}
			return ok("", "IDLE terminated")
		}
	}
}
