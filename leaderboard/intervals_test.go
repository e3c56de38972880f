package leaderboard_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"testing"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/scoring"
)

// intervalRef is testdata/intervals.json, written by testdata/intervals.py.
type intervalRef struct {
	Numpy      string `json:"numpy"`
	Benchmarks []struct {
		ID, Parent string
		Ceiling    float64
	} `json:"benchmarks"`
	Models []struct {
		Name        string     `json:"name"`
		Raw         []float64  `json:"raw"`
		SE          []float64  `json:"se"`
		Average     float64    `json:"average"`
		AverageSE   float64    `json:"average_se"`
		AverageCI   [2]float64 `json:"average_ci"`
		BootstrapCI [2]float64 `json:"bootstrap_ci"`
		ParentMeans []struct {
			Parent      string     `json:"parent"`
			Mean        float64    `json:"mean"`
			SE          float64    `json:"se"`
			CI          [2]float64 `json:"ci"`
			BootstrapCI [2]float64 `json:"bootstrap_ci"`
		} `json:"parent_means"`
	} `json:"models"`
	Order   []string `json:"order"`
	Differs []struct {
		A, B             string
		Differs          bool `json:"differs"`
		BootstrapDiffers bool `json:"bootstrap_differs"`
	} `json:"differs_from_next"`
}

func loadIntervalRef(t testing.TB) (intervalRef, []leaderboard.BenchmarkInfo, []scoring.Score) {
	t.Helper()
	data, err := os.ReadFile("testdata/intervals.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref intervalRef
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	var bs []leaderboard.BenchmarkInfo
	for _, b := range ref.Benchmarks {
		bs = append(bs, leaderboard.BenchmarkInfo{ID: b.ID, Parent: b.Parent, Region: b.Parent, Ceiling: b.Ceiling})
	}
	var ss []scoring.Score
	for _, m := range ref.Models {
		for i, b := range ref.Benchmarks {
			ss = append(ss, scoring.Score{ModelHash: m.Name, ModelName: m.Name, BenchmarkID: b.ID, Raw: m.Raw[i], SE: m.SE[i],
				Ceiling: b.Ceiling, Ceiled: m.Raw[i] / b.Ceiling, CILow: m.Raw[i] - 2*m.SE[i], CIHigh: m.Raw[i] + 2*m.SE[i]})
		}
	}
	return ref, bs, ss
}

// The intervals of the parent means and the average, and the neighbours'
// separation, against numpy: the closed form to rounding, and the
// parametric bootstrap it stands for (200000 seeded draws) to its Monte
// Carlo error.
func TestRankIntervalsMatchNumpy(t *testing.T) {
	ref, bs, ss := loadIntervalRef(t)
	lb := leaderboard.NewIndex(nil, bs, ss).Rank(leaderboard.Filter{})
	if len(lb.Rows) != len(ref.Order) {
		t.Fatalf("%d rows, want %d", len(lb.Rows), len(ref.Order))
	}
	const exact, mc = 1e-12, 5e-4
	near := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s: %.9f, want %.9f (numpy %s, tolerance %g)", what, got, want, ref.Numpy, tol)
		}
	}
	for i, r := range lb.Rows {
		if r.Model.Name != ref.Order[i] {
			t.Fatalf("row %d is %s, want %s", i, r.Model.Name, ref.Order[i])
		}
		var m = ref.Models[0]
		for _, x := range ref.Models {
			if x.Name == r.Model.Name {
				m = x
			}
		}
		near(m.Name+" average", r.Average, m.Average, exact)
		near(m.Name+" average SE", r.AverageSE, m.AverageSE, exact)
		for k := range 2 {
			near(fmt.Sprintf("%s average CI[%d]", m.Name, k), r.AverageCI[k], m.AverageCI[k], exact)
			near(fmt.Sprintf("%s average CI[%d] vs bootstrap", m.Name, k), r.AverageCI[k], m.BootstrapCI[k], mc)
		}
		for j, p := range m.ParentMeans {
			got := r.ParentMeans[j]
			if got.Parent != p.Parent {
				t.Fatalf("%s parent %d: %s, want %s", m.Name, j, got.Parent, p.Parent)
			}
			near(m.Name+" "+p.Parent+" mean", got.Mean, p.Mean, exact)
			near(m.Name+" "+p.Parent+" SE", got.SE, p.SE, exact)
			for k := range 2 {
				near(fmt.Sprintf("%s %s CI[%d]", m.Name, p.Parent, k), got.CI[k], p.CI[k], exact)
				near(fmt.Sprintf("%s %s CI[%d] vs bootstrap", m.Name, p.Parent, k), got.CI[k], p.BootstrapCI[k], mc)
			}
		}
	}
	for i, d := range ref.Differs {
		want := leaderboard.Overlaps
		if d.Differs {
			want = leaderboard.Differs
		}
		if d.Differs != d.BootstrapDiffers {
			t.Fatalf("reference: %s vs %s closed form %v, bootstrap %v: regenerate with another pair", d.A, d.B, d.Differs, d.BootstrapDiffers)
		}
		if got := lb.Rows[i].Next; got != want {
			t.Errorf("%s vs %s: %v, want %v", d.A, d.B, got, want)
		}
	}
	if last := lb.Rows[len(lb.Rows)-1].Next; last != leaderboard.Unseparated {
		t.Errorf("last row: %v, want Unseparated", last)
	}
}

// The same scores in any order give the same leaderboard, intervals
// included, every time.
func TestRankIntervalsDeterministic(t *testing.T) {
	_, bs, ss := loadIntervalRef(t)
	want := leaderboard.NewIndex(nil, bs, ss).Rank(leaderboard.Filter{})
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		rng.Shuffle(len(ss), func(i, j int) { ss[i], ss[j] = ss[j], ss[i] })
		rng.Shuffle(len(bs), func(i, j int) { bs[i], bs[j] = bs[j], bs[i] })
		got := leaderboard.NewIndex(nil, bs, ss).Rank(leaderboard.Filter{})
		if !reflect.DeepEqual(got.Rows, want.Rows) {
			t.Fatalf("shuffled input ranked differently:\n%+v\nwant\n%+v", got.Rows, want.Rows)
		}
	}
}

// A score without an SE has no interval, and its row is not compared.
func TestRankIntervalWithoutSE(t *testing.T) {
	bs := []leaderboard.BenchmarkInfo{bench("it1", "IT")}
	a, b := score("a", "it1", 0.5), score("b", "it1", 0.2)
	a.SE = math.NaN()
	lb := leaderboard.NewIndex(nil, bs, []scoring.Score{a, b}).Rank(leaderboard.Filter{})
	r := lb.Rows[0]
	if r.Model.Name != "a" || !math.IsNaN(r.AverageSE) || !math.IsNaN(r.AverageCI[0]) || r.Next != leaderboard.Unseparated {
		t.Errorf("row without SE: %+v, want NaN SE and CI, not compared", r)
	}
	if r := lb.Rows[1]; math.Abs(r.AverageSE-0.01) > tol {
		t.Errorf("row with SE 0.008/0.8: average SE %v, want 0.01", r.AverageSE)
	}
}

// BenchmarkRank200x20: ranking (intervals and separations included) of
// 200 models × 20 benchmarks, as the server does per filter and index
// generation.
func BenchmarkRank200x20(b *testing.B) {
	var bs []leaderboard.BenchmarkInfo
	regions := []string{"V1", "V2", "V4", "IT", "behaviour"}
	for j := range 20 {
		bs = append(bs, bench(fmt.Sprintf("b%02d", j), regions[j%len(regions)]))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var ss []scoring.Score
	for i := range 200 {
		for j := range 20 {
			if i%5 == 4 && j == i%20 {
				continue // some partial rows
			}
			ss = append(ss, score(fmt.Sprintf("m%03d", i), bs[j].ID, rng.Float64()))
		}
	}
	ix := leaderboard.NewIndex(nil, bs, ss)
	b.ReportAllocs()
	for b.Loop() {
		ix.Rank(leaderboard.Filter{})
	}
}
