package netlimit

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

func TestPerIPLimit(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &Listener{Listener: inner, PerIP: 2, Refusal: "421 busy\r\n"}
	defer l.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c1, c2 := dial(), dial()
	defer c1.Close()
	defer c2.Close()
	s1, s2 := <-accepted, <-accepted
	c3 := dial()
	defer c3.Close()
	_ = c3.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c3).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "421") {
		t.Fatalf("third connection: %q, %v; want 421", line, err)
	}
	// Closing one accepted connection frees a slot.
	s1.Close()
	c4 := dial()
	defer c4.Close()
	select {
	case s := <-accepted:
		s.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("slot not released after close")
	}
	s2.Close()
}
