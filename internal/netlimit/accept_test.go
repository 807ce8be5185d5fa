package netlimit

import (
	"errors"
	"net"
	"syscall"
	"testing"
)

// flakyListener fails with the errors of a process out of descriptors
// before it hands out a connection.
type flakyListener struct {
	net.Listener
	errs []error
}

func (f *flakyListener) Accept() (net.Conn, error) {
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return nil, err
	}
	return f.Listener.Accept()
}

func TestAcceptRetriesTemporaryErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := net.Dial("tcp", l.Addr().String())
		if err == nil {
			defer c.Close()
			c.Read(make([]byte, 1))
		}
	}()
	emfile := &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	enfile := &net.OpError{Op: "accept", Net: "tcp", Err: syscall.ENFILE}
	f := &flakyListener{Listener: l, errs: []error{emfile, enfile, emfile}}
	c, err := Accept(f, func() bool { return false }, nil)
	if err != nil {
		t.Fatalf("Accept gave up on temporary errors: %v", err)
	}
	c.Close()

	// A permanent error, or any error once stopped, ends the loop.
	perm := errors.New("listener broken")
	if _, err := Accept(&flakyListener{Listener: l, errs: []error{perm}}, func() bool { return false }, nil); err != perm {
		t.Errorf("permanent error: %v", err)
	}
	if _, err := Accept(&flakyListener{Listener: l, errs: []error{emfile}}, func() bool { return true }, nil); err == nil {
		t.Error("a stopped server kept accepting")
	}
}
