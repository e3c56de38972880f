package graceful

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestShutdownSkipsIdlePreconnect: a connection that never sends a
// request (a browser's preconnect) does not hold Shutdown; a request in
// flight does, and finishes with its answer. Plain net/http's Shutdown
// fails here with context.DeadlineExceeded: it waits for a StateNew
// connection until it is more than 5 s old.
func TestShutdownSkipsIdlePreconnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	entered := make(chan struct{})
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "finished")
	})}
	tr := Track(hs)
	go hs.Serve(ln)

	pre, err := net.Dial("tcp", ln.Addr().String()) // sends nothing
	if err != nil {
		t.Fatal(err)
	}
	defer pre.Close()
	type answer struct {
		body string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		r, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			got <- answer{err: err}
			return
		}
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		got <- answer{string(b), err}
	}()
	<-entered

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- tr.Shutdown(ctx, hs) }()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) while a request was in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown with an idle preconnect open: %v", err)
	}
	if a := <-got; a.err != nil || a.body != "finished" {
		t.Errorf("the request in flight got %q, %v; want its whole answer", a.body, a.err)
	}
	pre.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := pre.Read(make([]byte, 1)); err == nil {
		t.Error("the preconnect is still open after Shutdown")
	}
}

// TestShutdownStillBounded: a request that does not finish makes Shutdown
// return ctx's error, as net/http's does.
func TestShutdownStillBounded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{})
	stuck := make(chan struct{})
	defer close(stuck)
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-stuck
	})}
	tr := Track(hs)
	go hs.Serve(ln)
	go http.Get("http://" + ln.Addr().String() + "/")
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := tr.Shutdown(ctx, hs); err != context.DeadlineExceeded {
		t.Fatalf("Shutdown with a stuck request: %v, want context.DeadlineExceeded", err)
	}
}
