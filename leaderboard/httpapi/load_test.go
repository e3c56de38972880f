package httpapi

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/leaderboard/lbtest"
)

// The load test is off by default (it takes the machine's cores for a few
// seconds). Run it with
//
//	go test ./leaderboard/httpapi -run TestLoadLeaderboard -load -v
var (
	loadFlag     = flag.Bool("load", false, "run the leaderboard load test")
	loadClients  = flag.Int("load.clients", 200, "concurrent clients")
	loadRequests = flag.Int("load.requests", 25, "requests per client")
	loadPath     = flag.String("load.path", "/api/v1/leaderboard", "path to request")
)

// TestLoadLeaderboard serves 1000 models × 20 benchmarks on 127.0.0.1 and
// has load.clients goroutines each send load.requests requests back to
// back (a closed loop: the worst case for latency), with gzip as browsers
// and Go clients ask for it. It reports p50/p90/p99/max and fails when p99
// reaches 50 ms. Bounded: clients × requests requests, 2 minutes at most.
func TestLoadLeaderboard(t *testing.T) {
	if !*loadFlag {
		t.Skip("load test: run with -load")
	}
	src := lbtest.Synthetic(1000, 20, 0, 1)
	srv, err := NewServer(Config{}, src, src)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := srv.Invalidate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("Invalidate (load, rank, encode) of 1000 models × 20 benchmarks: %v", time.Since(start))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	url := "http://" + ln.Addr().String() + *loadPath

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tr := &http.Transport{MaxIdleConnsPerHost: *loadClients, MaxConnsPerHost: *loadClients, DisableCompression: true, ReadBufferSize: 64 << 10}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	// Warm up the connections so the numbers are about serving, not dialling.
	var lat []time.Duration
	var mu sync.Mutex
	var wg sync.WaitGroup
	var bytesRead int64
	errs := make(chan error, *loadClients)
	run := func(n int, record bool) {
		for range *loadClients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mine := make([]time.Duration, 0, n)
				var nb int64
				for range n {
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
					req.Header.Set("Accept-Encoding", "gzip")
					t0 := time.Now()
					res, err := client.Do(req)
					if err != nil {
						errs <- err
						return
					}
					k, err := io.Copy(io.Discard, res.Body)
					res.Body.Close()
					d := time.Since(t0)
					if err != nil || res.StatusCode != 200 {
						errs <- fmt.Errorf("status %d, %v", res.StatusCode, err)
						return
					}
					nb += k
					mine = append(mine, d)
				}
				if record {
					mu.Lock()
					lat = append(lat, mine...)
					bytesRead += nb
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	run(1, false)
	cpu0 := cpuTime()
	t0 := time.Now()
	run(*loadRequests, true)
	wall := time.Since(t0)
	cpu := cpuTime() - cpu0
	close(errs)
	for err := range errs {
		t.Fatalf("request failed: %v", err)
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	t.Logf("%s: %d clients × %d requests = %d in %v (%.0f req/s, %d bytes/response on the wire)",
		*loadPath, *loadClients, *loadRequests, len(lat), wall.Round(time.Millisecond), float64(len(lat))/wall.Seconds(), bytesRead/int64(len(lat)))
	t.Logf("latency p50 %v  p90 %v  p99 %v  max %v", q(0.5), q(0.9), q(0.99), lat[len(lat)-1])
	// The cores are shared: say how much of them this process got.
	la, _ := os.ReadFile("/proc/loadavg")
	t.Logf("process CPU %v over %v wall (client and server together); load average %s",
		cpu.Round(time.Millisecond), wall.Round(time.Millisecond), strings.Join(strings.Fields(string(la))[:3], " "))
	if q(0.99) >= 50*time.Millisecond {
		t.Errorf("p99 %v, want < 50ms", q(0.99))
	}
}

// cpuTime returns the user+system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
