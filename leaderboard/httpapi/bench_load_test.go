package httpapi

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/leaderboard/lbtest"
)

// BenchmarkLoad is the load benchmark of issue 15: 1000 models × 20
// benchmarks of synthetic scores served on 127.0.0.1, 200 concurrent
// clients (a closed loop) over the JSON leaderboard, CSV, model and page
// routes with distinct offsets, limits and filters, so most leaderboard
// requests miss the response cache. b.N is the number of requests; run it
// with a fixed count, e.g.
//
//	go test ./leaderboard/httpapi -run '^$' -bench BenchmarkLoad -benchtime 4000x
//
// It reports p50 and p99 latency (ms), p99 of the second half of the
// requests (after the first build of each ranking), process CPU per request (ms; client
// and server share the process, so this is an upper bound on the server's)
// the process's peak RSS (MB), and the fraction of requests the server
// shed with 503 and Retry-After.
func BenchmarkLoad(b *testing.B) {
	const clients = 200
	src := lbtest.Synthetic(1000, 20, 0, 1)
	srv, err := NewServer(Config{}, src, src)
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Invalidate(context.Background()); err != nil {
		b.Fatal(err)
	}
	models, _ := src.Models(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	base := "http://" + ln.Addr().String()

	filters := []string{"", "region=V1", "region=IT", "region=V4,IT", "species=human", "method=fmri",
		"family=resnet", "family=vit,alexnet", "species=macaque&method=ephys", "region=V1&family=convnext"}
	limits := []int{10, 50, 100, 1000, 5000}
	// urlOf gives request i: mostly leaderboard pages with distinct
	// offsets, the rest CSV exports, model details and web pages.
	urlOf := func(i int) string {
		f := filters[(i/7)%len(filters)]
		switch i % 10 {
		case 0, 1, 2, 3, 4, 5:
			q := fmt.Sprintf("offset=%d&limit=%d", (i*37)%1000, limits[(i/3)%len(limits)])
			if f != "" {
				q = f + "&" + q
			}
			return base + "/api/v1/leaderboard?" + q
		case 6:
			if f != "" {
				return base + "/api/v1/leaderboard.csv?" + f
			}
			return base + "/api/v1/leaderboard.csv"
		case 7:
			return base + "/api/v1/models/" + models[(i*13)%len(models)].Hash
		case 8:
			return base + "/models/" + models[(i*29)%len(models)].Hash
		default:
			return base + "/"
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients, DisableCompression: true, ReadBufferSize: 64 << 10}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var busy atomic.Int64 // 503 answers: the server shedding load, counted, not failures
	get := func(u string) (time.Duration, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		t0 := time.Now()
		res, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		d := time.Since(t0)
		if res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Retry-After") != "" {
			busy.Add(1)
			return d, err
		}
		if err == nil && res.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: status %d", u, res.StatusCode)
		}
		return d, err
	}
	// Warm the connections (on the cached landing page) so the numbers are
	// about serving, not dialling.
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() { defer wg.Done(); get(base + "/") }()
	}
	wg.Wait()

	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var firstErr atomic.Value
	cpu0 := cpuTime()
	b.ResetTimer()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				d, err := get(urlOf(i))
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				lat[i] = d
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	cpu := cpuTime() - cpu0
	if err, _ := firstErr.Load().(error); err != nil {
		b.Fatal(err)
	}
	// The second half of the requests (by issue order) comes after the
	// first build of every ranking and CSV: the warm server.
	warm := slices.Clone(lat[b.N/2:])
	slices.Sort(warm)
	slices.Sort(lat)
	q := func(lat []time.Duration, p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(q(lat, 0.5), "p50-ms")
	b.ReportMetric(q(lat, 0.99), "p99-ms")
	b.ReportMetric(q(warm, 0.99), "p99-warm-ms")
	b.ReportMetric(float64(cpu)/1e6/float64(b.N), "cpu-ms/req")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MB")
	b.ReportMetric(float64(busy.Load())/float64(b.N), "503/req")
	if la, err := os.ReadFile("/proc/loadavg"); err == nil && b.N > 1 {
		b.Logf("%d requests by %d clients; load average %s (the cores may be shared)", b.N, clients, strings.Join(strings.Fields(string(la))[:3], " "))
	}
}

// peakRSS returns the process's peak resident set size in bytes.
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss << 10 // Linux reports KiB
}
