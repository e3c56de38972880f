package httpapi

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cortexbench/cortexbench/leaderboard/lbtest"
)

// BenchmarkLoad is the load benchmark of issue 15. The server (1000
// models × 20 benchmarks of synthetic scores, default Config) runs in a
// child process (this test binary re-executed, see loadServerEnv) on
// 127.0.0.1, so its CPU time and peak RSS are its own, read from
// /proc/<pid>; the clients run in the benchmark's process. Requests go
// over the JSON leaderboard (distinct offsets, limits 10 to 5000 and ten
// filters, so most miss the response cache), CSV export, model detail
// and web page routes, all asking for gzip. b.N is the number of
// requests; run it with a fixed count, e.g.
//
//	go test ./leaderboard/httpapi -run '^$' -bench BenchmarkLoad -benchtime 4000x [-args -load.rate 200]
//
// It has two parts, each with a fresh server (so the first request of
// each filter builds its ranking, as after every data refresh):
//
//   - saturation: 200 clients in a closed loop with zero think time,
//     each sending its next request as soon as the previous answer is
//     read. This measures capacity, not what a user waits: with 200
//     requests always in flight, latency is queue length / throughput.
//     Reported: req/s, the server's CPU per request (ms), its peak RSS
//     (MB), p50/p99 latency (ms).
//   - open-loop: 200 clients, each sending requests at the times of a
//     Poisson process, whether or not its previous answers arrived
//     (each request on its own goroutine and connection if need be), at
//     a total offered rate of -load.rate requests per second (default
//     200: each of 200 users active once a second, about ten times the
//     platform's expected peak of a few dozen concurrent visitors). This
//     is what a user sees under that load. Reported: p50/p99/max latency
//     (ms) measured from the moment the request is sent to the last byte
//     of its body, p99 of the second half (after each filter's first
//     ranking), the achieved rate, the server's CPU per request and peak
//     RSS.
//
// Both report the fraction of requests the server shed with 503 and
// Retry-After (counted, not failures). The machine's load average is
// logged: the numbers are only meaningful on otherwise idle cores.
// CORTEXBENCH_LOAD_CPUPROFILE=file makes the server write a CPU profile
// of its whole life (the last part run overwrites it).
func BenchmarkLoad(b *testing.B) {
	b.Run("saturation", func(b *testing.B) { benchLoad(b, false) })
	b.Run("open-loop", func(b *testing.B) { benchLoad(b, true) })
}

var loadRate = flag.Float64("load.rate", 200, "BenchmarkLoad open-loop: total offered rate, requests per second")

const (
	// loadServerEnv, set in a child process of the test binary, makes it
	// serve the benchmark's leaderboard instead of running tests.
	loadServerEnv  = "CORTEXBENCH_TEST_LOAD_SERVER"
	loadProfileEnv = "CORTEXBENCH_LOAD_CPUPROFILE"
	loadModels     = 1000
	loadBenchmarks = 20
	benchClients   = 200
)

// runLoadServerIfChild serves the benchmark's data when this process is
// BenchmarkLoad's server: it prints its address on stdout and serves
// until stdin is closed.
func runLoadServerIfChild() {
	if os.Getenv(loadServerEnv) == "" {
		return
	}
	gin.SetMode(gin.ReleaseMode)
	if err := loadServer(); err != nil {
		fmt.Fprintln(os.Stderr, "load server:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func loadServer() error {
	if path := os.Getenv(loadProfileEnv); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	src := lbtest.Synthetic(loadModels, loadBenchmarks, 0, 1)
	srv, err := NewServer(Config{}, src, src)
	if err != nil {
		return err
	}
	if err := srv.Invalidate(context.Background()); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	fmt.Println(ln.Addr().String())
	io.Copy(io.Discard, os.Stdin) // until the benchmark closes it
	return hs.Close()
}

// loadChild is the server process of one part of BenchmarkLoad.
type loadChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	base  string
}

func startLoadServer(b *testing.B) *loadChild {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), loadServerEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &loadChild{cmd: cmd, stdin: stdin}
	b.Cleanup(c.stop)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("load server did not start: %v", err)
	}
	c.base = "http://" + strings.TrimSpace(line)
	return c
}

func (c *loadChild) stop() {
	if c.stdin != nil {
		c.stdin.Close()
		c.stdin = nil
		done := make(chan struct{})
		go func() { c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			c.cmd.Process.Kill()
			<-done
		}
	}
}

// cpu returns the child's user+system CPU time so far.
func (c *loadChild) cpu() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command (which may hold spaces) in parentheses.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc stat %q", s)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks, nil
}

// peakRSS returns the child's peak resident set size in bytes.
func (c *loadChild) peakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

func benchLoad(b *testing.B, open bool) {
	child := startLoadServer(b)
	base := child.base
	models, _ := lbtest.Synthetic(loadModels, loadBenchmarks, 0, 1).Models(context.Background())

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
	tr := &http.Transport{MaxIdleConnsPerHost: 4 * benchClients, DisableCompression: true, ReadBufferSize: 64 << 10}
	if !open {
		tr.MaxConnsPerHost = benchClients
	}
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
	for range benchClients {
		wg.Add(1)
		go func() { defer wg.Done(); get(base + "/") }()
	}
	wg.Wait()

	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var firstErr atomic.Value
	record := func(i int) {
		d, err := get(urlOf(i))
		if err != nil {
			firstErr.CompareAndSwap(nil, err)
		}
		lat[i] = d
	}
	cpu0, err := child.cpu()
	if err != nil {
		b.Fatal(err)
	}
	allSent := make(chan struct{}) // open loop: closed when request b.N-1 is sent
	b.ResetTimer()
	t0 := time.Now()
	for k := range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !open {
				for {
					i := int(next.Add(1)) - 1
					if i >= b.N || firstErr.Load() != nil {
						return
					}
					record(i)
				}
			}
			// Each client a Poisson process of rate/clients: exponential
			// gaps, sent on schedule whatever is still in flight.
			rng := rand.New(rand.NewPCG(uint64(k), 15))
			mean := float64(benchClients) / *loadRate * float64(time.Second)
			at := time.Now()
			var mine sync.WaitGroup
			defer mine.Wait()
			for {
				at = at.Add(time.Duration(rng.ExpFloat64() * mean))
				select {
				case <-time.After(time.Until(at)):
				case <-allSent: // do not wait out a gap past the last request
					return
				}
				i := int(next.Add(1)) - 1
				if i >= b.N || firstErr.Load() != nil {
					return
				}
				if i == b.N-1 {
					close(allSent)
				}
				mine.Add(1)
				go func() { defer mine.Done(); record(i) }()
			}
		}()
	}
	wg.Wait()
	wall := time.Since(t0)
	b.StopTimer()
	cpu1, err := child.cpu()
	if err != nil {
		b.Fatal(err)
	}
	rss, err := child.peakRSS()
	if err != nil {
		b.Fatal(err)
	}
	if err, _ := firstErr.Load().(error); err != nil {
		b.Fatal(err)
	}
	// p99 by route, logged: where the tail comes from.
	var byRoute []string
	for _, r := range []struct {
		name  string
		kinds []int // values of i%10 in urlOf
	}{{"page", []int{0, 1, 2, 3, 4, 5}}, {"csv", []int{6}}, {"model", []int{7}}, {"web", []int{8, 9}}} {
		var l []time.Duration
		for i, d := range lat {
			if slices.Contains(r.kinds, i%10) {
				l = append(l, d)
			}
		}
		if len(l) > 0 {
			slices.Sort(l)
			byRoute = append(byRoute, fmt.Sprintf("%s %.1f", r.name, float64(l[int(0.99*float64(len(l)-1))])/1e6))
		}
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
	b.ReportMetric(q(lat, 1), "max-ms")
	b.ReportMetric(float64(b.N)/wall.Seconds(), "req/s")
	b.ReportMetric(float64(cpu1-cpu0)/1e6/float64(b.N), "server-cpu-ms/req")
	b.ReportMetric(float64(rss)/(1<<20), "server-peak-RSS-MB")
	b.ReportMetric(float64(busy.Load())/float64(b.N), "503/req")
	if la, err := os.ReadFile("/proc/loadavg"); err == nil && b.N > 1 {
		mode := "closed loop, zero think time"
		if open {
			mode = fmt.Sprintf("open loop, Poisson arrivals at %g req/s offered", *loadRate)
		}
		b.Logf("%d requests by %d clients (%s) in %v; p99 ms by route: %s; load average %s (the cores may be shared)",
			b.N, benchClients, mode, wall.Round(time.Millisecond), strings.Join(byRoute, ", "), strings.Join(strings.Fields(string(la))[:3], " "))
	}
}
