package snapshot_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/snapshot"
	"github.com/cortexbench/cortexbench/leaderboard/stores"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/embedded"
	"github.com/cortexbench/cortexbench/storage/objstore"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/storage/s3"
)

// oneBench is a catalogue of one public benchmark, "pub" version v1, and
// a second, "new", once added.
type oneBench struct {
	mu    sync.Mutex
	added bool
}

func (c *oneBench) List(context.Context) ([]benchmarks.Summary, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := []benchmarks.Summary{{ID: "pub", Version: "v1", Region: "IT", Species: "macaque", Method: "rsa",
		CeilingValid: true, CeilingUpper: 0.8}}
	if c.added {
		out = append(out, benchmarks.Summary{ID: "new", Version: "v1", Region: "V4", Species: "macaque", Method: "rsa"})
	}
	return out, nil
}
func (c *oneBench) add() { c.mu.Lock(); c.added = true; c.mu.Unlock() }
func (*oneBench) Benchmark(_ context.Context, ref string) (*benchmarks.Benchmark, error) {
	return nil, fmt.Errorf("benchmark %s: %w", ref, benchmarks.ErrNotFound)
}
func (*oneBench) Open(_ context.Context, ref string) (*benchmarks.Loaded, error) {
	return nil, fmt.Errorf("open %s: not in this fake", ref)
}

// platform is a real embedded S3 endpoint (its public bucket) and a real
// SQLite registry.
type platform struct {
	srv    *embedded.Server
	public *s3.Bucket
	db     *registry.Registry
	board  stores.Board
	bench  *oneBench
}

func newPlatform(t *testing.T) *platform {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	srv, err := embedded.Start(embedded.Config{Dir: filepath.Join(dir, "objects")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	pub, err := srv.OpenPublic(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db, err := registry.Open(ctx, registry.Config{SQLitePath: filepath.Join(dir, "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	bench := &oneBench{}
	return &platform{srv: srv, public: pub, db: db, board: stores.Board{DB: db, Bench: bench}, bench: bench}
}

// addScore stores a score as a worker does, for model number i.
func (p *platform) addScore(t *testing.T, i int) string {
	t.Helper()
	h := fmt.Sprintf("%064x", i+1)
	if err := p.db.PutModel(t.Context(), registry.Model{Hash: h, File: h, Name: fmt.Sprintf("model-%d", i), Family: "f"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.db.PutScore(t.Context(), scoring.Score{ModelHash: h, ModelName: fmt.Sprintf("model-%d", i), BenchmarkID: "pub",
		BenchmarkVersion: "v1", ScorerVersion: scoring.ScorerVersion, Raw: 0.3, Ceiling: 0.6, Ceiled: 0.5, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return h
}

type published struct {
	Total      int
	Benchmarks []struct{ ID string }
	Rows       []struct{ Model struct{ Hash string } }
	Snapshot   snapshot.Meta
}

// latest reads the public latest.json anonymously over HTTP.
func (p *platform) latest(t *testing.T) (published, bool) {
	t.Helper()
	resp, err := http.Get(p.srv.PublicURL(snapshot.LatestJSON))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return published{}, false
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET latest.json: %s: %s", resp.Status, body)
	}
	var d published
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatalf("latest.json: %v", err)
	}
	return d, true
}

// waitTotal waits up to d for the public latest.json to show want models.
func (p *platform) waitTotal(t *testing.T, want int, d time.Duration) published {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		doc, ok := p.latest(t)
		if ok && doc.Total == want {
			return doc
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the public latest.json shows %d models (found %v), want %d", d, doc.Total, ok, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Issue 15, finding 8: scores a worker adds reach the public snapshot
// within the debounce interval, and a burst of changes gives at most two
// publishes.
func TestPublisherFollowsScores(t *testing.T) {
	p := newPlatform(t)
	const interval = 2 * time.Second
	pub := &snapshot.Publisher{Bucket: p.public, Source: p.board, Interval: interval, Poll: 100 * time.Millisecond}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { pub.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	doc := p.waitTotal(t, 0, interval) // the empty board is published at start
	g0 := doc.Snapshot.Generation
	time.Sleep(interval) // let the interval after that publish pass
	start := time.Now()
	p.addScore(t, 0)
	doc = p.waitTotal(t, 1, interval)
	t.Logf("one new score published after %v", time.Since(start))
	if doc.Snapshot.Generation != g0+1 || len(doc.Rows) != 1 || doc.Rows[0].Model.Hash != fmt.Sprintf("%064x", 1) {
		t.Errorf("snapshot %+v, want generation %d and the new model", doc.Snapshot, g0+1)
	}

	time.Sleep(interval)
	before := pub.Published()
	for i := 1; i <= 20; i++ {
		p.addScore(t, i)
		time.Sleep(20 * time.Millisecond)
	}
	p.waitTotal(t, 21, 2*interval)
	time.Sleep(interval + 500*time.Millisecond) // anything still scheduled has run
	if n := pub.Published() - before; n < 1 || n > 2 {
		t.Errorf("20 quick changes gave %d publishes, want 1 or 2", n)
	}
	if doc, _ := p.latest(t); doc.Total != 21 {
		t.Errorf("finally %d models published, want 21", doc.Total)
	}

	// A withdrawal moves the generation too, and is published.
	doc, _ = p.latest(t)
	if err := p.db.WithdrawModel(t.Context(), fmt.Sprintf("%064x", 1), "admin", "test"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * interval); ; time.Sleep(50 * time.Millisecond) {
		if d, _ := p.latest(t); d.Snapshot.Generation == doc.Snapshot.Generation+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a withdrawal the published generation is still %d", doc.Snapshot.Generation)
		}
	}

	// A new benchmark, before any score on it, is published too (within
	// the interval, when the catalogue is read again).
	p.bench.add()
	for deadline := time.Now().Add(3 * interval); ; time.Sleep(50 * time.Millisecond) {
		if d, _ := p.latest(t); len(d.Benchmarks) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a new benchmark was never published")
		}
	}
}

// Two publishers racing, each with its own generation, never leave the
// older snapshot as latest: whatever the interleaving, latest ends as the
// newest one written.
func TestPublishVersionRaceKeepsNewest(t *testing.T) {
	p := newPlatform(t)
	ctx := t.Context()
	boards := map[int64]*leaderboard.Leaderboard{}
	for g := int64(1); g <= 6; g++ {
		p.addScore(t, int(g))
		ix, err := leaderboard.Load(ctx, p.board)
		if err != nil {
			t.Fatal(err)
		}
		boards[g] = ix.Rank(leaderboard.Filter{})
	}
	at := time.Now()
	for round := 0; round < 5; round++ {
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for g := int64(1); g <= 6; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[g-1] = snapshot.PublishVersion(ctx, p.public, boards[g], snapshot.Version{Generation: g + int64(round)*10, At: at})
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		doc, _ := p.latest(t)
		want := int64(6 + round*10)
		if doc.Snapshot.Generation != want || doc.Total != 6 {
			t.Fatalf("round %d: latest is generation %d with %d models, want the newest, %d with 6", round, doc.Snapshot.Generation, doc.Total, want)
		}
		csvMeta, err := p.public.Get(ctx, snapshot.LatestCSV)
		if err != nil {
			t.Fatal(err)
		}
		csvBody, _ := io.ReadAll(csvMeta)
		csvMeta.Close()
		if n := countLines(csvBody); n != 7 {
			t.Fatalf("round %d: latest.csv has %d lines, want header + 6 (the newest snapshot's)", round, n)
		}
	}
	// An older one published later is refused; the same content of the
	// same generation is not written again.
	res, err := snapshot.PublishVersion(ctx, p.public, boards[3], snapshot.Version{Generation: 3, At: time.Now()})
	if err != nil || res.Published || res.Current.Generation != 46 {
		t.Errorf("older snapshot: %+v, %v; want refused with current generation 46", res, err)
	}
	res, err = snapshot.PublishVersion(ctx, p.public, boards[6], snapshot.Version{Generation: 46, At: time.Now()})
	if err != nil || res.Published {
		t.Errorf("same content: %+v, %v; want not written again", res, err)
	}
}

func countLines(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}

// failingBucket fails every Put while fail is set.
type failingBucket struct {
	*objstore.Memory
	mu   sync.Mutex
	fail bool
}

func (b *failingBucket) set(fail bool) { b.mu.Lock(); b.fail = fail; b.mu.Unlock() }
func (b *failingBucket) Put(ctx context.Context, key string, r io.Reader) error {
	b.mu.Lock()
	fail := b.fail
	b.mu.Unlock()
	if fail {
		return errors.New("no space left on device")
	}
	return b.Memory.Put(ctx, key, r)
}

// A publish that fails is logged, not fatal, and retried without waiting
// for another change.
func TestPublisherRetriesAfterFailure(t *testing.T) {
	p := newPlatform(t)
	p.addScore(t, 0)
	b := &failingBucket{Memory: objstore.NewMemory(), fail: true}
	var logs syncLog
	pub := &snapshot.Publisher{Bucket: b, Source: p.board, Interval: 200 * time.Millisecond, Poll: 50 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(&logs, nil))}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { pub.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), "no space left on device"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no failure logged: %q", logs.String())
		}
	}
	if !strings.Contains(logs.String(), "retrying") {
		t.Errorf("the failure log does not say it retries: %q", logs.String())
	}
	b.set(false)
	for deadline := time.Now().Add(5 * time.Second); pub.Published() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not published after the bucket recovered")
		}
	}
	m, err := snapshot.ReadMeta(t.Context(), b, snapshot.LatestJSON)
	if err != nil || m.Generation != 1 {
		t.Errorf("latest after recovery: %+v, %v", m, err)
	}
}

type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *syncLog) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// Two publishers (two processes' worth) on one bucket while scores keep
// coming: latest ends at the last generation, with every model.
func TestTwoPublishersConverge(t *testing.T) {
	p := newPlatform(t)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	pubs := make([]*snapshot.Publisher, 2)
	for i := range pubs {
		pubs[i] = &snapshot.Publisher{Bucket: p.public, Source: p.board, Interval: 300 * time.Millisecond, Poll: 30 * time.Millisecond}
		wg.Go(func() { pubs[i].Run(ctx) })
	}
	defer func() { cancel(); wg.Wait() }()
	for i := range 15 {
		p.addScore(t, i)
		time.Sleep(time.Duration(i%4) * 40 * time.Millisecond)
	}
	doc := p.waitTotal(t, 15, 3*time.Second)
	if doc.Snapshot.Generation != 15 {
		t.Errorf("latest generation %d, want 15", doc.Snapshot.Generation)
	}
	time.Sleep(700 * time.Millisecond) // nothing older lands afterwards
	if doc, _ := p.latest(t); doc.Total != 15 || doc.Snapshot.Generation != 15 {
		t.Errorf("later: %d models, generation %d; want 15 and 15", doc.Total, doc.Snapshot.Generation)
	}
	t.Logf("publishes: %d and %d", pubs[0].Published(), pubs[1].Published())
}

// Old versioned snapshots are deleted beyond the newest ones kept; latest
// and the newest stay readable.
func TestPruneVersions(t *testing.T) {
	p := newPlatform(t)
	ctx := t.Context()
	p.addScore(t, 1)
	ix, err := leaderboard.Load(ctx, p.board)
	if err != nil {
		t.Fatal(err)
	}
	lb := ix.Rank(leaderboard.Filter{})
	at := time.Now()
	for g := int64(1); g <= 5; g++ {
		if _, err := snapshot.PublishVersion(ctx, p.public, lb, snapshot.Version{Generation: g, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := snapshot.PruneVersions(ctx, p.public, 2)
	if err != nil || n != 3 {
		t.Fatalf("pruned %d (%v), want 3 of 5", n, err)
	}
	all, err := objstore.ListAll(ctx, p.public, snapshot.VersionedPrefix)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range all {
		keys = append(keys, o.Key)
	}
	if len(keys) != 4 || !strings.Contains(keys[0], fmt.Sprintf("%020d", 4)) || !strings.Contains(keys[3], fmt.Sprintf("%020d", 5)) {
		t.Fatalf("left %v, want the JSON and CSV of generations 4 and 5", keys)
	}
	if doc, ok := p.latest(t); !ok || doc.Snapshot.Generation != 5 {
		t.Fatalf("latest after pruning: generation %d (%v), want 5", doc.Snapshot.Generation, ok)
	}
	if n, err := snapshot.PruneVersions(ctx, p.public, 2); err != nil || n != 0 {
		t.Fatalf("pruning again: %d (%v), want nothing", n, err)
	}
}
