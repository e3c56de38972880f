package embedded

import (
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer collects the standard logger's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func captureLog(t *testing.T) *lockedBuffer {
	var buf lockedBuffer
	prev := log.Writer()
	log.SetOutput(&buf)
	t.Cleanup(func() { log.SetOutput(prev) })
	return &buf
}

// Issue 17: the server log was flooded with "superfluous
// response.WriteHeader" lines. Objects got whole, got by a client that
// hangs up early, and missing log none; other lines of the server's
// error log still reach the log.
func TestGetLogsNoSuperfluousWriteHeader(t *testing.T) {
	buf := captureLog(t)
	ctx := context.Background()
	b, srv, err := Open(ctx, Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB
	if err := b.Put(ctx, "rdms/model.npy", bytes.NewReader(big)); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		rc, err := b.Get(ctx, "rdms/model.npy")
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n != int64(len(big)) {
			t.Fatalf("get: %d bytes, %v", n, err)
		}
	}
	for range 3 { // hang up after a few bytes
		cctx, cancel := context.WithCancel(ctx)
		rc, err := b.Get(cctx, "rdms/model.npy")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rc.Read(make([]byte, 64)); err != nil {
			t.Fatal(err)
		}
		cancel()
		rc.Close()
	}
	if _, err := b.Get(ctx, "rdms/missing.npy"); err == nil {
		t.Fatal("a missing object was found")
	}
	srv.srv.ErrorLog.Print("http: another problem")
	if err := srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); strings.Contains(out, "superfluous") || !strings.Contains(out, "http: another problem") {
		t.Errorf("server log:\n%s\nwant no superfluous WriteHeader line, and the other line", out)
	}
}

// The filter itself, on a handler that writes its status twice (as
// gofakes3 does when a copy fails): net/http's line is dropped, and
// without the filter it is there.
func TestErrorLogDropsSuperfluousWriteHeader(t *testing.T) {
	buf := captureLog(t)
	twice := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.WriteHeader(http.StatusInternalServerError)
	})
	serve := func(errLog *log.Logger) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := &http.Server{Handler: twice, ErrorLog: errLog}
		go s.Serve(ln)
		defer s.Close()
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	serve(errorLog())
	if strings.Contains(buf.String(), "superfluous") {
		t.Errorf("filtered log: %s", buf.String())
	}
	serve(nil)
	if !strings.Contains(buf.String(), "superfluous response.WriteHeader") {
		t.Errorf("unfiltered log lacks the line the filter drops (did net/http change it?): %q", buf.String())
	}
}
