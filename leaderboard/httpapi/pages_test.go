package httpapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/lbtest"
	"github.com/cortexbench/cortexbench/leaderboard/wire"
)

// TestPagesAreByteIdentical (issue 15, finding 7): a page sliced from the
// per-filter ranking is byte for byte the document encoded whole, for
// offsets and limits at and past the ends and every kind of filter, and
// its gzip form (concatenated pre-compressed rows) decompresses to it.
func TestPagesAreByteIdentical(t *testing.T) {
	src := lbtest.WithEvilModel(57, 7, 3)
	srv, err := NewServer(Config{}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	ix := srvIndex(t, srv)
	filters := []leaderboard.Filter{{}, {Regions: []string{"IT"}}, {Regions: []string{"v1", "V4"}}, {Species: []string{"human"}},
		{Families: []string{"vit"}}, {Methods: []string{"ephys"}, Families: []string{"resnet", "-cmd"}}}
	for _, f := range filters {
		rb, err := newRankedBoard(ix, f)
		if err != nil {
			t.Fatal(err)
		}
		lb := ix.Rank(f)
		for _, offset := range []int{0, 1, 2, 13, 55, 56, 57, 58, 1000} {
			for _, limit := range []int{1, 2, 5, 50, 100, 5000} {
				want, err := marshal(wire.FromLeaderboard(lb, offset, limit))
				if err != nil {
					t.Fatal(err)
				}
				e := rb.page(offset, limit)
				if !bytes.Equal(e.body, want) {
					t.Fatalf("filter %s offset %d limit %d: sliced page differs from the whole document:\n%s\nwant\n%s", f.Key(), offset, limit, e.body, want)
				}
				if w := newEntry("application/json", want); e.etag != w.etag || (e.gz == nil) != (w.gz == nil) && len(want) > 1100 {
					t.Errorf("filter %s offset %d limit %d: etag %s gzip %v, want %s %v", f.Key(), offset, limit, e.etag, e.gz != nil, w.etag, w.gz != nil)
				}
				if e.gz != nil {
					zr, err := gzip.NewReader(bytes.NewReader(e.gz))
					if err != nil {
						t.Fatal(err)
					}
					zr.Multistream(false)
					got, err := io.ReadAll(zr) // checks the CRC and length too
					if err != nil || !bytes.Equal(got, want) {
						t.Fatalf("filter %s offset %d limit %d: gzip gives %d bytes, %v; want the %d of the page", f.Key(), offset, limit, len(got), err, len(want))
					}
				}
			}
		}
	}
}

// TestGzipPageWithSystemGzip: the concatenated stream is one gzip member
// that gzip(1) accepts, as browsers' decoders must.
func TestGzipPageWithSystemGzip(t *testing.T) {
	gz, err := exec.LookPath("gzip")
	if err != nil {
		t.Skip("no gzip on PATH")
	}
	src := lbtest.Synthetic(40, 6, 0, 2)
	srv, err := NewServer(Config{}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := newRankedBoard(srvIndex(t, srv), leaderboard.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	e := rb.page(3, 30)
	if e.gz == nil {
		t.Fatal("no gzip copy of a large page")
	}
	cmd := exec.Command(gz, "-dc")
	cmd.Stdin = bytes.NewReader(e.gz)
	out, err := cmd.Output()
	if err != nil || !bytes.Equal(out, e.body) {
		t.Fatalf("gzip -dc: %v, %d bytes; want %d", err, len(out), len(e.body))
	}
}

// TestServedPagesMatchRanking: pages served over HTTP with distinct
// offsets and filters, plain and gzip, are the whole document's slices.
func TestServedPagesMatchRanking(t *testing.T) {
	src := lbtest.Synthetic(30, 6, 0, 4)
	srv, err := NewServer(Config{}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	ix := srvIndex(t, srv)
	h := srv.Handler()
	for i, q := range []string{"", "region=IT", "family=vit,resnet", "species=human&method=fmri"} {
		f, _ := parseFilter(mustQuery(t, q), "region", "species", "method", "family")
		for _, enc := range []string{"", "gzip"} {
			for offset := range 31 {
				limit := 1 + (offset*7+i)%12
				want, _ := marshal(wire.FromLeaderboard(ix.Rank(f), offset, limit))
				p := "/api/v1/leaderboard?offset=" + strconv.Itoa(offset) + "&limit=" + strconv.Itoa(limit)
				if q != "" {
					p += "&" + q
				}
				res, body := get(t, h, p, "Accept-Encoding", enc)
				if res.StatusCode != 200 || !bytes.Equal(body, want) {
					t.Fatalf("GET %s (%q): %d, body differs from the document encoded whole", p, enc, res.StatusCode)
				}
			}
		}
	}
}

func mustQuery(t *testing.T, q string) map[string][]string {
	t.Helper()
	v := map[string][]string{}
	for _, kv := range strings.Split(q, "&") {
		if k, val, ok := strings.Cut(kv, "="); ok {
			v[k] = append(v[k], val)
		}
	}
	return v
}

// TestCacheBoundedByBytes: the on-demand responses kept stay within
// MaxCacheBytes however many distinct pages are asked for.
func TestCacheBoundedByBytes(t *testing.T) {
	src := lbtest.Synthetic(200, 8, 0, 1)
	// A 50-row page is ~90 KB (with its gzip form) since issue 17's
	// intervals and coverage: the budget holds a few.
	const budget = 400 << 10
	srv, err := NewServer(Config{MaxCacheBytes: budget}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	for i := range 150 {
		res, _ := get(t, h, "/api/v1/leaderboard?limit=50&offset="+strconv.Itoa(i), "Accept-Encoding", "gzip")
		if res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
	}
	st := srv.state.Load()
	st.mu.Lock()
	defer st.mu.Unlock()
	var sum int64
	for _, e := range st.cache {
		sum += e.size()
	}
	if sum != st.cacheBytes || sum > budget || len(st.cache) < 2 {
		t.Errorf("cache holds %d responses of %d bytes (counted %d), budget %d", len(st.cache), sum, st.cacheBytes, budget)
	}
}

// TestPagesDoNotEvictOtherResponses: pages of distinct offsets, cheap to
// slice again, keep to half the byte budget and are dropped before a CSV
// export or a model detail.
func TestPagesDoNotEvictOtherResponses(t *testing.T) {
	src := lbtest.Synthetic(200, 8, 0, 1)
	const budget = 800 << 10 // pages (~90 KB each since issue 17) get half
	srv, err := NewServer(Config{MaxCacheBytes: budget}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	models, _ := src.Models(context.Background())
	others := []string{"/api/v1/leaderboard.csv?region=V1", "/api/v1/models/" + models[3].Hash}
	for _, p := range others {
		if res, _ := get(t, h, p, "Accept-Encoding", "gzip"); res.StatusCode != 200 {
			t.Fatalf("GET %s: status %d", p, res.StatusCode)
		}
	}
	for i := range 100 {
		res, _ := get(t, h, "/api/v1/leaderboard?limit=200&offset="+strconv.Itoa(i), "Accept-Encoding", "gzip")
		if res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
	}
	st := srv.state.Load()
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, k := range []string{"csv?" + (leaderboard.Filter{Regions: []string{"V1"}}).Key(), "model/" + models[3].Hash} {
		if _, ok := st.cache[k]; !ok {
			t.Errorf("%s evicted by pages", k)
		}
	}
	var pages, all int64
	for k, e := range st.cache {
		all += e.size()
		if strings.HasPrefix(k, pageKeyPrefix) {
			pages += e.size()
		}
	}
	if pages != st.pageBytes || all != st.cacheBytes || pages > budget/2 || pages == 0 || len(st.pageOrder) < 2 {
		t.Errorf("pages hold %d bytes (counted %d) in %d entries, all %d (counted %d); want 0 < pages <= %d", pages, st.pageBytes, len(st.pageOrder), all, st.cacheBytes, budget/2)
	}
}

// TestBuildsLimited: with every build token taken and the queue full, a
// request needing a new build gets 503 with Retry-After at once, while
// precomputed responses are still served; once the builds finish the
// queued request and then a new one are answered.
func TestBuildsLimited(t *testing.T) {
	src := lbtest.Synthetic(20, 4, 0, 1)
	srv, err := NewServer(Config{MaxBuilds: 1, MaxQueuedBuilds: 1}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Invalidate(context.Background()); err != nil {
		t.Fatal(err)
	}
	base := newLoopbackServer(t, srv)
	srv.builds <- struct{}{} // a long build holds the only token
	queued := make(chan int, 1)
	go func() {
		res, err := http.Get(base + "/api/v1/leaderboard?region=V1")
		if err != nil {
			queued <- 0
			return
		}
		res.Body.Close()
		queued <- res.StatusCode
	}()
	deadline := time.Now().Add(10 * time.Second)
	for srv.queued.Load() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the first build did not queue within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	res, err := http.Get(base + "/api/v1/leaderboard?region=IT&offset=3")
	if err != nil {
		t.Fatal(err)
	}
	var doc errorDoc
	json.NewDecoder(res.Body).Decode(&doc)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || doc.Error.Code != "unavailable" {
		t.Fatalf("busy server answered %d, Retry-After %q, %+v; want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"), doc)
	}
	if res, err := http.Get(base + "/api/v1/leaderboard"); err != nil || res.StatusCode != 200 {
		t.Fatalf("precomputed page while busy: %v %v", res, err)
	}
	<-srv.builds
	if code := <-queued; code != 200 {
		t.Fatalf("queued request answered %d after the builds, want 200", code)
	}
	if res, err := http.Get(base + "/api/v1/leaderboard?region=IT&offset=3"); err != nil || res.StatusCode != 200 {
		t.Fatalf("after the builds: %v %v", res, err)
	}
}
