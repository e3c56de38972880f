package httpapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/leaderboard/lbtest"
)

// Issue 14 finding 4: Serve's timeouts and connection limit, on 127.0.0.1
// with short timeouts.

// countingListener counts the connections open at once.
type countingListener struct {
	net.Listener
	open, max atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := l.open.Add(1)
	for m := l.max.Load(); n > m && !l.max.CompareAndSwap(m, n); m = l.max.Load() {
	}
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// serveLoopback runs Serve on 127.0.0.1 with cfg and extra until the test
// ends; it returns the address and the counting listener.
func serveLoopback(t *testing.T, cfg Config, extra map[string]http.Handler) (string, *countingListener) {
	t.Helper()
	srv, err := NewServer(cfg, lbtest.Synthetic(4, 2, 0, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, cl, extra, time.Hour, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String(), cl
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitClosed reads from c until the server closes it, and returns how long
// that took; it fails the test if c is still open after limit.
func waitClosed(t *testing.T, c net.Conn, br *bufio.Reader, limit time.Duration) time.Duration {
	t.Helper()
	t0 := time.Now()
	c.SetReadDeadline(t0.Add(limit))
	_, err := io.Copy(io.Discard, br)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection still open after %v", limit)
	}
	return time.Since(t0)
}

func TestServeClosesIdleKeepAlive(t *testing.T) {
	addr, _ := serveLoopback(t, Config{IdleTimeout: 300 * time.Millisecond}, nil)
	c := dial(t, addr)
	fmt.Fprint(c, "GET /api/v1/openapi.json HTTP/1.1\r\nHost: cortexbench\r\n\r\n")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Close {
		t.Fatalf("first request: %d, close %v: want a kept-alive 200", res.StatusCode, res.Close)
	}
	if d := waitClosed(t, c, br, 3*time.Second); d < 200*time.Millisecond {
		t.Errorf("idle connection closed after %v, before the idle timeout", d)
	}
}

func TestServeCutsTrickledBody(t *testing.T) {
	got := make(chan error, 2)
	upload := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		if err == nil {
			// The deadline is cleared once the body is in: a handler
			// working longer than BodyReadTimeout is not cut.
			time.Sleep(700 * time.Millisecond)
			err = r.Context().Err()
		}
		got <- err
		if err != nil {
			http.Error(w, "body read failed", http.StatusRequestTimeout)
			return
		}
		w.Write([]byte("ok"))
	})
	cfg := Config{ReadHeaderTimeout: time.Second, BodyReadTimeout: 400 * time.Millisecond, MinBodyRate: 1 << 20}
	addr, _ := serveLoopback(t, cfg, map[string]http.Handler{"POST /upload": upload})

	// A 4 MB body sent at full speed is read whole.
	body := make([]byte, 4<<20)
	c := dial(t, addr)
	fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: cortexbench\r\nContent-Length: %d\r\n\r\n", len(body))
	if _, err := c.Write(body); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if err := <-got; err != nil || res.StatusCode != 200 {
		t.Fatalf("fast upload: %d, handler error %v", res.StatusCode, err)
	}

	// A body trickled at 1 byte/s is cut, and the connection closed.
	c = dial(t, addr)
	fmt.Fprint(c, "POST /upload HTTP/1.1\r\nHost: cortexbench\r\nContent-Length: 1000\r\n\r\n")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			if _, err := c.Write([]byte("x")); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	t0 := time.Now()
	select {
	case err := <-got:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("trickled body: handler got %v, want a timeout", err)
		}
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("trickled body cut after %v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a body trickled at 1 byte/s is still being read after 5s")
	}
	waitClosed(t, c, bufio.NewReader(c), 3*time.Second)
}

func TestServeConnectionLimit(t *testing.T) {
	const limit, slow = 20, 25
	cfg := Config{MaxConns: limit, ReadHeaderTimeout: 500 * time.Millisecond, IdleTimeout: 500 * time.Millisecond}
	addr, cl := serveLoopback(t, cfg, nil)
	// Slow clients: half a request line each, never finished.
	for range slow {
		c := dial(t, addr)
		fmt.Fprint(c, "GET /api/v1/openapi.json HTTP/1.1\r\nHost: cortex")
	}
	for t0 := time.Now(); cl.open.Load() < limit && time.Since(t0) < 400*time.Millisecond; {
		time.Sleep(10 * time.Millisecond)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	t0 := time.Now()
	res, err := client.Get("http://" + addr + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if d := time.Since(t0); res.StatusCode != 200 || d > 3*time.Second {
		t.Errorf("normal request behind %d slow clients: %d after %v", slow, res.StatusCode, d)
	}
	if m := cl.max.Load(); m > limit {
		t.Errorf("%d connections open at once, limit %d", m, limit)
	}
	if m := cl.max.Load(); m < limit {
		t.Errorf("only %d connections open at once: the slow clients did not fill the limit %d", m, limit)
	}
}

func TestConfigValidateLimits(t *testing.T) {
	for _, c := range []Config{{IdleTimeout: -1}, {ReadHeaderTimeout: -1}, {BodyReadTimeout: -1}, {MinBodyRate: -1}, {MaxConns: -1}} {
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	d := Config{}.withDefaults()
	if d.ReadHeaderTimeout != 10*time.Second || d.IdleTimeout != time.Minute || d.BodyReadTimeout != 30*time.Second || d.MinBodyRate != 16<<10 || d.MaxConns != 512 {
		t.Errorf("defaults %+v", d)
	}
}

// TestServeShutdownWithSilentConnection replays stop 26's CI failure
// against Serve: a connection that never sends a request (a browser's
// preconnect) is open when the context ends. Serve must still shut down
// cleanly, and at once; net/http's Shutdown alone waits for such a
// connection until it is over 5 s old, past Serve's 5 s grace, and Serve
// then returned "context deadline exceeded".
func TestServeShutdownWithSilentConnection(t *testing.T) {
	srv, err := NewServer(Config{}, lbtest.Synthetic(4, 2, 0, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, nil, time.Hour, io.Discard) }()
	// One request answered (the server is up), then the silent connection.
	r, err := http.Get("http://" + ln.Addr().String() + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	silent := dial(t, ln.Addr().String())
	time.Sleep(100 * time.Millisecond) // accepted: in StateNew
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve with a silent connection open: %v", err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("Serve still shutting down after 4 s: it waits on a connection that never sent a request")
	}
	silent.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the silent connection is still open after shutdown (read: %v)", err)
	}
}
