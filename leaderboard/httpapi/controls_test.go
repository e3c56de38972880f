package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/lbtest"
	"github.com/cortexbench/cortexbench/leaderboard/stores"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/objstore"
	"github.com/cortexbench/cortexbench/storage/rdmstore"
)

// memBenchmarks serves loaded benchmarks from memory (compare reads
// benchmarks through this interface; the registry implements it).
type memBenchmarks map[string]*benchmarks.Loaded

func (m memBenchmarks) Benchmark(_ context.Context, ref string) (*benchmarks.Benchmark, error) {
	l, ok := m[ref]
	if !ok {
		return nil, fmt.Errorf("%s: %w", ref, benchmarks.ErrNotFound)
	}
	return l.Benchmark, nil
}

func (m memBenchmarks) Open(_ context.Context, ref string) (*benchmarks.Loaded, error) {
	l, ok := m[ref]
	if !ok {
		return nil, fmt.Errorf("%s: %w", ref, benchmarks.ErrNotFound)
	}
	return l, nil
}

func (m memBenchmarks) List(context.Context) ([]benchmarks.Summary, error) { return nil, nil }

// controlsBoard is a board of RSA benchmarks (30 stimuli, 5 subjects
// whose RDMs are a common structure plus noise) where a trained model
// whose RDM follows the structure beats a control with a random RDM
// ("win.IT"), where the only trained model is as random as the control
// ("lose.IT", also a private benchmark), an encoding benchmark
// ("ridge.V1") and one without a control ("nocontrol.V4"). The model RDMs
// are kept in a real rdmstore over an in-memory bucket, and the test
// runs through stores.Comparer and scoring/compare.
func controlsBoard(t *testing.T) (*leaderboard.MemSource, leaderboard.ControlTester) {
	t.Helper()
	const n, subjects = 30, 5
	m := n * (n - 1) / 2
	rng := rand.New(rand.NewPCG(16, 6))
	noisy := func(base []float64, sd float64) []float64 {
		v := make([]float64, m)
		for i := range v {
			if base != nil {
				v[i] = base[i]
			}
			v[i] += sd * rng.NormFloat64()
		}
		return v
	}
	truth := noisy(nil, 1)
	var subj [][]float64
	for range subjects {
		subj = append(subj, noisy(truth, 0.7))
	}
	bench := memBenchmarks{}
	rdms := rdmstore.Store{Bucket: objstore.NewMemory()}
	ctx := context.Background()
	trained := leaderboard.ModelInfo{Hash: lbtest.Hash("trained"), Name: "trained", Family: "resnet"}
	random := leaderboard.ModelInfo{Hash: lbtest.Hash("random"), Name: "random", Family: "vit"}
	control := leaderboard.ModelInfo{Hash: lbtest.Hash("trained (control: shuffled)"), Name: "trained (control: shuffled)", Family: leaderboard.ControlFamily}
	var infos []leaderboard.BenchmarkInfo
	var scores []scoring.Score
	t0 := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	add := func(id string, private bool, kind benchmarks.MetricKind, entries map[leaderboard.ModelInfo][]float64, raw map[leaderboard.ModelInfo][3]float64) {
		b := &benchmarks.Benchmark{ID: id, Version: "v1", Private: private, Metric: benchmarks.Metric{Kind: kind, Comparison: "spearman"},
			Dataset: benchmarks.Dataset{Kind: benchmarks.KindRDM}}
		if kind != benchmarks.MetricRSA {
			b.Dataset.Kind = benchmarks.KindResponses
		}
		bench[id] = &benchmarks.Loaded{Benchmark: b, RDMs: subj,
			Stimuli: benchmarks.NewStimuli(nil, benchmarks.StimulusSet{Stimuli: make([]benchmarks.Stimulus, n)})}
		region := id[strings.IndexByte(id, '.')+1:]
		infos = append(infos, leaderboard.BenchmarkInfo{ID: id, Version: "v1", Region: region, Parent: region, Private: private, Ceiling: 0.8, StimulusCount: n})
		for mi, v := range entries {
			if v != nil {
				if err := rdms.PutModelRDM(ctx, mi.Hash, id, n, v); err != nil {
					t.Fatal(err)
				}
			}
			r := raw[mi]
			scores = append(scores, scoring.Score{ModelHash: mi.Hash, ModelName: mi.Name, BenchmarkID: id, BenchmarkVersion: "v1", ScorerVersion: scoring.ScorerVersion,
				Raw: r[0], CILow: r[1], CIHigh: r[2], Ceiling: 0.8, Ceiled: r[0] / 0.8, Layer: "L001.Conv", CreatedAt: t0})
		}
	}
	good, ctl, rnd := noisy(truth, 0.5), noisy(nil, 1), noisy(nil, 1)
	add("win.IT", false, benchmarks.MetricRSA, map[leaderboard.ModelInfo][]float64{trained: good, control: ctl},
		map[leaderboard.ModelInfo][3]float64{trained: {0.6, 0.5, 0.7}, control: {0.02, -0.05, 0.08}})
	add("lose.IT2", true, benchmarks.MetricRSA, map[leaderboard.ModelInfo][]float64{random: rnd, control: ctl},
		map[leaderboard.ModelInfo][3]float64{random: {0.03, -0.05, 0.1}, control: {0.02, -0.05, 0.08}})
	add("ridge.V1", false, benchmarks.MetricRidge, map[leaderboard.ModelInfo][]float64{trained: nil, control: nil},
		map[leaderboard.ModelInfo][3]float64{trained: {0.4, 0.3, 0.5}, control: {0.35, 0.25, 0.45}})
	add("nocontrol.V4", false, benchmarks.MetricRSA, map[leaderboard.ModelInfo][]float64{trained: good},
		map[leaderboard.ModelInfo][3]float64{trained: {0.6, 0.5, 0.7}})
	src := leaderboard.NewMemSource([]leaderboard.ModelInfo{trained, random, control}, infos, scores)
	return src, stores.NewComparer(bench, rdms)
}

type controlsDoc struct {
	Controls *struct {
		Test           string
		Note           string
		Discriminating *bool
		Flag           string
		Rule           string
		Controls       []struct {
			Model    struct{ Name, Family string }
			Score    *struct{ Raw float64 }
			Tested   int
			BeatenBy int `json:"beaten_by"`
			Note     string
			Models   []struct {
				Model            struct{ Name string }
				Diff, P, Q       *float64
				Beats            bool
				IntervalsOverlap *bool `json:"intervals_overlap"`
			}
		}
	}
}

func getControls(t *testing.T, srv *Server, id string) controlsDoc {
	t.Helper()
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/benchmarks/"+id, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", id, rec.Code, rec.Body)
	}
	var d controlsDoc
	if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
		t.Fatalf("GET %s: %v\n%s", id, err, rec.Body)
	}
	return d
}

// TestBenchmarkControls: a benchmark page shows its control's score and
// whether a trained model beats it reliably (paired bootstrap, BH across
// the models); where none does the benchmark is flagged not
// discriminating (a private benchmark too, without serving any RDM); an
// encoding benchmark shows the intervals' overlap and says the test is
// not available; a benchmark without a control has no section.
func TestBenchmarkControls(t *testing.T) {
	src, real := controlsBoard(t)
	tester := &countingTester{next: real}
	srv, err := NewServer(Config{Controls: tester}, src, nil)
	if err != nil {
		t.Fatal(err)
	}

	win := getControls(t, srv, "win.IT").Controls
	if win == nil || win.Test != "paired-bootstrap" || win.Discriminating == nil || !*win.Discriminating || win.Flag != "" || len(win.Controls) != 1 {
		t.Fatalf("win.IT: %+v, want a tested, discriminating benchmark", win)
	}
	c := win.Controls[0]
	if c.Model.Family != "control" || c.Score == nil || c.Score.Raw != 0.02 || c.Tested != 1 || c.BeatenBy != 1 || len(c.Models) != 1 {
		t.Fatalf("win.IT control: %+v", c)
	}
	if v := c.Models[0]; v.Model.Name != "trained" || !v.Beats || v.Diff == nil || *v.Diff <= 0 || v.Q == nil || *v.Q >= leaderboard.FDRLevel || v.P == nil || *v.Q != *v.P {
		t.Errorf("win.IT trained vs control: %+v (one model: q = p)", v)
	}

	lose := getControls(t, srv, "lose.IT2").Controls
	if lose == nil || lose.Discriminating == nil || *lose.Discriminating || lose.Flag != leaderboard.NotDiscriminating {
		t.Fatalf("lose.IT2: %+v, want flagged %q", lose, leaderboard.NotDiscriminating)
	}
	if v := lose.Controls[0].Models[0]; v.Beats || v.Q == nil || (*v.Q < leaderboard.FDRLevel && *v.Diff > 0) {
		t.Errorf("lose.IT2 random vs control: %+v, want not beating it", v)
	}

	ridge := getControls(t, srv, "ridge.V1").Controls
	if ridge == nil || ridge.Test != "intervals" || ridge.Discriminating != nil || !strings.Contains(ridge.Note, "not available") {
		t.Fatalf("ridge.V1: %+v, want the intervals only and a note", ridge)
	}
	if v := ridge.Controls[0].Models[0]; v.P != nil || v.IntervalsOverlap == nil || !*v.IntervalsOverlap {
		t.Errorf("ridge.V1 trained vs control: %+v, want no p and overlapping intervals", v)
	}

	if d := getControls(t, srv, "nocontrol.V4"); d.Controls != nil {
		t.Errorf("nocontrol.V4: %+v, want no controls section", d.Controls)
	}
	// Computed once per benchmark version and scores: a new generation
	// with the same scores does not run the bootstrap again.
	calls := tester.calls
	if err := srv.Invalidate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if again := getControls(t, srv, "win.IT").Controls; again == nil || again.Discriminating == nil || !*again.Discriminating || tester.calls != calls {
		t.Errorf("after a refresh with the same scores: %d tests run, want %d (memoized)", tester.calls, calls)
	}

	// Without a tester: the scores and intervals only, said so.
	plain, err := NewServer(Config{}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := getControls(t, plain, "win.IT").Controls; d == nil || d.Test != "intervals" || d.Discriminating != nil || d.Note == "" {
		t.Errorf("no tester: %+v", d)
	}
}

// countingTester counts the tests it runs.
type countingTester struct {
	next  leaderboard.ControlTester
	calls int
}

func (c *countingTester) AgainstControl(ctx context.Context, id, control string, hashes []string) (*leaderboard.ControlTest, error) {
	c.calls++
	return c.next.AgainstControl(ctx, id, control, hashes)
}

// slowTester never finishes before its context ends.
type slowTester struct{ calls int }

func (s *slowTester) AgainstControl(ctx context.Context, _, _ string, _ []string) (*leaderboard.ControlTest, error) {
	s.calls++
	<-ctx.Done()
	return nil, ctx.Err()
}

// The test is bounded: past ControlTimeout the page says so, is served,
// and the test is tried again for the next generation rather than kept.
func TestBenchmarkControlsTimeout(t *testing.T) {
	src, _ := controlsBoard(t)
	slow := &slowTester{}
	srv, err := NewServer(Config{Controls: slow, ControlTimeout: 50 * time.Millisecond}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	d := getControls(t, srv, "win.IT").Controls
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("the page took %v with a 50ms bound", el)
	}
	if d == nil || d.Discriminating != nil || !strings.Contains(d.Note, "did not finish") {
		t.Fatalf("timed out: %+v", d)
	}
	if err := srv.Invalidate(context.Background()); err != nil {
		t.Fatal(err)
	}
	getControls(t, srv, "win.IT")
	if slow.calls != 2 {
		t.Errorf("%d tests run, want 2 (a timed-out result is not kept)", slow.calls)
	}
}
