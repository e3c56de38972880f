package leaderboard_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/scoring"
)

const tol = 1e-12

func bench(id, region string) leaderboard.BenchmarkInfo {
	return leaderboard.BenchmarkInfo{ID: id, Version: "v1", Parent: region, Region: region, Species: "macaque", Method: "ephys", Ceiling: 0.8}
}

func score(model, benchmark string, ceiled float64) scoring.Score {
	return scoring.Score{ModelHash: model, ModelName: model, BenchmarkID: benchmark, BenchmarkVersion: "v1",
		Raw: ceiled * 0.8, Ceiling: 0.8, Ceiled: ceiled, SE: 0.008, CILow: ceiled*0.8 - 0.016, CIHigh: ceiled*0.8 + 0.016}
}

func ranks(lb *leaderboard.Leaderboard) map[string]int {
	out := make(map[string]int)
	for _, r := range lb.Rows {
		out[r.Model.Hash] = r.Rank
	}
	return out
}

func TestRankTiesShareRank(t *testing.T) {
	bs := []leaderboard.BenchmarkInfo{bench("b1", "IT")}
	// c and b tie to within ScoreResolution (0.4 and 0.4 + 1e-9).
	ss := []scoring.Score{score("a", "b1", 0.5), score("c", "b1", 0.4), score("b", "b1", 0.4+1e-9), score("d", "b1", 0.3)}
	lb := leaderboard.NewIndex(nil, bs, ss).Rank(leaderboard.Filter{})
	var got []int
	var names []string
	for _, r := range lb.Rows {
		got = append(got, r.Rank)
		names = append(names, r.Model.Name)
	}
	if want := []int{1, 2, 2, 4}; !slices.Equal(got, want) {
		t.Errorf("ranks %v, want %v", got, want)
	}
	// Tied rows are ordered by name so the order is stable.
	if want := []string{"a", "b", "c", "d"}; !slices.Equal(names, want) {
		t.Errorf("order %v, want %v", names, want)
	}
}

func TestRankAggregatesPerParentThenOverParents(t *testing.T) {
	bs := []leaderboard.BenchmarkInfo{bench("v1a", "V1"), bench("it1", "IT"), bench("it2", "IT")}
	ss := []scoring.Score{score("m", "v1a", 0.6), score("m", "it1", 0.2), score("m", "it2", 0.4)}
	lb := leaderboard.NewIndex(nil, bs, ss).Rank(leaderboard.Filter{})
	if len(lb.Rows) != 1 {
		t.Fatalf("%d rows, want 1", len(lb.Rows))
	}
	r := lb.Rows[0]
	// IT mean (0.2+0.4)/2 = 0.3; average (0.6 + 0.3)/2 = 0.45, not the flat mean 0.4.
	if math.Abs(r.Average-0.45) > tol {
		t.Errorf("average %v, want 0.45", r.Average)
	}
	if !slices.Equal(lb.Parents, []string{"IT", "V1"}) {
		t.Errorf("parents %v, want [IT V1]", lb.Parents)
	}
	if pm := r.ParentMeans[0]; pm.Parent != "IT" || math.Abs(pm.Mean-0.3) > tol || pm.Scored != 2 || pm.Total != 2 {
		t.Errorf("IT mean %+v, want 0.3 over 2/2", pm)
	}
	if !r.Complete() {
		t.Errorf("complete row reported incomplete: missing %v", r.Missing)
	}
	if c := r.Cells[0]; c.Layer != "" || !c.Present || math.Abs(c.CeiledSE-0.01) > tol || math.Abs(c.CeiledCILow-(0.2-0.02)) > tol {
		t.Errorf("cell %+v: want ceiled SE 0.008/0.8 = 0.01, CI low 0.18", c)
	}
}

// A missing score is not counted as 0 (issue 17; until then it was, and
// "partial" averaged 0.35): a partial row averages what it has and is
// ranked after every complete row, even one with a lower average.
func TestRankMissingIsNotZeroAndRankedAfterComplete(t *testing.T) {
	bs := []leaderboard.BenchmarkInfo{bench("it1", "IT"), bench("it2", "IT")}
	ss := []scoring.Score{
		score("full", "it1", 0.4), score("full", "it2", 0.4),
		score("partial", "it1", 0.7), // 0.7 on one benchmark only
		score("noceiling", "it1", math.NaN()), score("noceiling", "it2", 0.5),
	}
	ss[3].Ceiling = math.NaN()
	lb := leaderboard.NewIndex(nil, bs, ss).Rank(leaderboard.Filter{})
	byHash := make(map[string]leaderboard.Row)
	for _, r := range lb.Rows {
		byHash[r.Model.Hash] = r
	}
	p := byHash["partial"]
	if math.Abs(p.Average-0.7) > tol || !p.Partial() || !slices.Equal(p.Missing, []string{"it2"}) || p.Cells[1].Present ||
		p.Coverage != (leaderboard.Coverage{Scored: 1, Total: 2}) {
		t.Errorf("partial: average %v missing %v coverage %+v, want 0.7 over its one benchmark, it2 missing, 1/2", p.Average, p.Missing, p.Coverage)
	}
	if pm := p.ParentMeans[0]; math.Abs(pm.Mean-0.7) > tol || pm.Scored != 1 || pm.Total != 2 {
		t.Errorf("partial IT mean %+v, want 0.7 over 1 of 2", pm)
	}
	// partial (0.7) and noceiling (0.5) are in the partial block, after full (0.4).
	if rk := ranks(lb); rk["full"] != 1 || rk["partial"] != 2 || rk["noceiling"] != 3 {
		t.Errorf("ranks %v, want full 1, partial 2, noceiling 3", rk)
	}
	if n := byHash["noceiling"]; !slices.Equal(n.Missing, []string{"it1"}) || math.Abs(n.Average-0.5) > tol {
		t.Errorf("a score without a ceiling must count as missing: %+v", n)
	}
	// full is complete, the next row partial: not compared. partial and
	// noceiling miss different benchmarks: not compared either.
	for _, r := range lb.Rows {
		if r.Next != leaderboard.Unseparated {
			t.Errorf("%s: Next %v, want Unseparated (the neighbours are averaged over other benchmarks)", r.Model.Name, r.Next)
		}
	}
}

// Issue 17: a random tiny CNN scored on 9 of 9 benchmarks ranked above
// resnet18, alexnet and squeezenet scored on 2 of 9, by their zeros. It is
// now the only complete row and ranks first; the three follow in the
// partial block, by their own averages, each showing 2/9.
func TestRankTinyCNNDoesNotOutrankPartialModelsByTheirZeros(t *testing.T) {
	ids := []string{"a.IT", "b.IT", "c.IT", "d.EVC", "e.EVC", "f.V4", "g.V4", "h.behaviour", "i.behaviour"}
	var bs []leaderboard.BenchmarkInfo
	for _, id := range ids {
		bs = append(bs, bench(id, id[2:]))
	}
	var ss []scoring.Score
	for _, id := range ids {
		ss = append(ss, score("tinycnn", id, 0.05))
	}
	for m, v := range map[string]float64{"resnet18": 0.6, "alexnet": 0.5, "squeezenet": 0.55} {
		ss = append(ss, score(m, "a.IT", v), score(m, "d.EVC", v+0.1))
	}
	lb := leaderboard.NewIndex(nil, bs, ss).Rank(leaderboard.Filter{})
	var got []string
	for _, r := range lb.Rows {
		got = append(got, fmt.Sprintf("%d %s %d/%d partial=%v %.3f", r.Rank, r.Model.Name, r.Coverage.Scored, r.Coverage.Total, r.Partial(), r.Average))
	}
	want := []string{
		"1 tinycnn 9/9 partial=false 0.050",
		"2 resnet18 2/9 partial=true 0.650",
		"3 squeezenet 2/9 partial=true 0.600",
		"4 alexnet 2/9 partial=true 0.550",
	}
	if !slices.Equal(got, want) {
		t.Errorf("rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The three partial rows share their benchmarks, so they are compared:
	// 0.05 apart with SE sqrt(2)·0.01/2 each is 0.05 > 1.96·0.01 = 0.0196.
	if lb.Rows[0].Next != leaderboard.Unseparated || lb.Rows[1].Next != leaderboard.Differs || lb.Rows[2].Next != leaderboard.Differs ||
		lb.Rows[3].Next != leaderboard.Unseparated {
		t.Errorf("separations %v %v %v %v, want Unseparated Differs Differs Unseparated", lb.Rows[0].Next, lb.Rows[1].Next, lb.Rows[2].Next, lb.Rows[3].Next)
	}
	// coverage=common keeps a.IT and d.EVC, the benchmarks all four have:
	// every row complete, tinycnn last.
	common := leaderboard.NewIndex(nil, bs, ss).Rank(leaderboard.Filter{Coverage: "common"})
	got = got[:0]
	for _, r := range common.Rows {
		got = append(got, fmt.Sprintf("%d %s %d/%d", r.Rank, r.Model.Name, r.Coverage.Scored, r.Coverage.Total))
	}
	if want := []string{"1 resnet18 2/2", "2 squeezenet 2/2", "3 alexnet 2/2", "4 tinycnn 2/2"}; !slices.Equal(got, want) {
		t.Errorf("coverage=common rows %v, want %v", got, want)
	}
	if len(common.Benchmarks) != 2 || common.Benchmarks[0].ID != "d.EVC" || common.Benchmarks[1].ID != "a.IT" {
		t.Errorf("coverage=common columns %v, want d.EVC, a.IT", common.Benchmarks)
	}
	if want := []string{"e.EVC", "b.IT", "c.IT", "f.V4", "g.V4", "h.behaviour", "i.behaviour"}; !slices.Equal(common.Excluded, want) {
		t.Errorf("coverage=common excluded %v, want %v", common.Excluded, want)
	}
}

func TestRankCoverageFilter(t *testing.T) {
	bs := []leaderboard.BenchmarkInfo{bench("it1", "IT"), bench("v4", "V4")}
	ss := []scoring.Score{score("a", "it1", 0.5), score("b", "v4", 0.5)}
	ix := leaderboard.NewIndex(nil, bs, ss)
	// No benchmark is common to a and b: nothing is comparable.
	lb := ix.Rank(leaderboard.Filter{Coverage: "COMMON"})
	if len(lb.Rows) != 0 || len(lb.Benchmarks) != 0 || !slices.Equal(lb.Excluded, []string{"it1", "v4"}) {
		t.Errorf("disjoint coverage=common: rows %d columns %d excluded %v, want none, none, both", len(lb.Rows), len(lb.Benchmarks), lb.Excluded)
	}
	// The family filter decides who is listed, hence what is common.
	ms := []leaderboard.ModelInfo{{Hash: "a", Name: "a", Family: "x"}, {Hash: "b", Name: "b", Family: "y"}}
	lb = leaderboard.NewIndex(ms, bs, ss).Rank(leaderboard.Filter{Families: []string{"x"}, Coverage: "common"})
	if len(lb.Rows) != 1 || len(lb.Benchmarks) != 1 || lb.Benchmarks[0].ID != "it1" || !lb.Rows[0].Complete() {
		t.Errorf("family=x&coverage=common: %d rows over %v", len(lb.Rows), lb.Benchmarks)
	}
	if err := ix.CheckFilter(leaderboard.Filter{Coverage: "some"}); leaderboard.ErrorCode(err) != leaderboard.EINVALID ||
		!strings.Contains(err.Error(), `"common"`) {
		t.Errorf("coverage=some: %v, want EINVALID naming the values", err)
	}
	for _, c := range []string{"", "all", "Common"} {
		if err := ix.CheckFilter(leaderboard.Filter{Coverage: c}); err != nil {
			t.Errorf("coverage=%q: %v", c, err)
		}
	}
	if a, b := (leaderboard.Filter{}).Key(), (leaderboard.Filter{Coverage: "all"}).Key(); a != b {
		t.Errorf("keys of the default coverage differ: %q vs %q", a, b)
	}
	if a, b := (leaderboard.Filter{}).Key(), (leaderboard.Filter{Coverage: "common"}).Key(); a == b {
		t.Errorf("coverage=common has the default's key %q", a)
	}
	if (leaderboard.Filter{Coverage: "common"}).IsZero() {
		t.Error("coverage=common reported as selecting everything")
	}
}

func TestRankUsesCurrentVersionNewestScore(t *testing.T) {
	bs := []leaderboard.BenchmarkInfo{bench("b", "IT")}
	old := score("m", "b", 0.9)
	old.BenchmarkVersion = "v0" // stale benchmark version: ignored
	early := score("m", "b", 0.2)
	late := score("m", "b", 0.3)
	late.CreatedAt = early.CreatedAt.Add(time.Hour)
	ix := leaderboard.NewIndex(nil, bs, []scoring.Score{late, old, early})
	s, ok := ix.Score("m", "b")
	if !ok || s.Ceiled != 0.3 {
		t.Errorf("current score %v (%v), want the newest current-version one, 0.3", s.Ceiled, ok)
	}
	only := leaderboard.NewIndex(nil, bs, []scoring.Score{old}).Rank(leaderboard.Filter{})
	if len(only.Rows) != 0 {
		t.Errorf("a model with only stale scores is ranked: %+v", only.Rows)
	}
}

func TestRankFilters(t *testing.T) {
	bs := []leaderboard.BenchmarkInfo{bench("v1a", "V1"), bench("it1", "IT"), bench("it2", "IT")}
	bs[2].Species, bs[2].Method = "human", "fmri"
	ms := []leaderboard.ModelInfo{{Hash: "r", Name: "resnet", Family: "resnet"}, {Hash: "v", Name: "vit", Family: "vit"}}
	ss := []scoring.Score{score("r", "v1a", 0.9), score("r", "it1", 0.1), score("r", "it2", 0.1),
		score("v", "v1a", 0.1), score("v", "it1", 0.5), score("v", "it2", 0.5)}
	ix := leaderboard.NewIndex(ms, bs, ss)

	all := ix.Rank(leaderboard.Filter{})
	if rk := ranks(all); rk["r"] != 1 || rk["v"] != 2 {
		t.Errorf("unfiltered ranks %v: resnet (0.5) should beat vit (0.3)", rk)
	}
	it := ix.Rank(leaderboard.Filter{Regions: []string{"it"}}) // case-insensitive
	if len(it.Benchmarks) != 2 || it.Benchmarks[0].ID != "it1" {
		t.Errorf("region=it columns %v", it.Benchmarks)
	}
	if rk := ranks(it); rk["v"] != 1 || rk["r"] != 2 {
		t.Errorf("region=IT ranks %v, want vit first", rk)
	}
	human := ix.Rank(leaderboard.Filter{Species: []string{"human"}, Methods: []string{"fmri"}})
	if len(human.Benchmarks) != 1 || human.Benchmarks[0].ID != "it2" {
		t.Errorf("species=human&method=fmri columns %v, want [it2]", human.Benchmarks)
	}
	fam := ix.Rank(leaderboard.Filter{Families: []string{"vit"}})
	if len(fam.Rows) != 1 || fam.Rows[0].Model.Hash != "v" || fam.Rows[0].Rank != 1 {
		t.Errorf("family=vit rows %+v", fam.Rows)
	}
	if err := ix.CheckFilter(leaderboard.Filter{Regions: []string{"V2"}}); leaderboard.ErrorCode(err) != leaderboard.EINVALID {
		t.Errorf("unknown region: error %v, want code %s", err, leaderboard.EINVALID)
	}
	if err := ix.CheckFilter(leaderboard.Filter{Regions: []string{"v1"}, Families: []string{"ViT"}}); err != nil {
		t.Errorf("known values rejected: %v", err)
	}
	if a, b := (leaderboard.Filter{Regions: []string{"IT", "V1"}}).Key(), (leaderboard.Filter{Regions: []string{"v1", "it"}}).Key(); a != b {
		t.Errorf("keys differ for equal filters: %q vs %q", a, b)
	}
}

func TestRankBenchmark(t *testing.T) {
	bs := []leaderboard.BenchmarkInfo{bench("b", "IT")}
	ix := leaderboard.NewIndex(nil, bs, []scoring.Score{score("x", "b", 0.2), score("y", "b", 0.6), score("z", "b", 0.6)})
	got := ix.RankBenchmark("b")
	if len(got) != 3 || got[0].Rank != 1 || got[1].Rank != 1 || got[2].Rank != 3 || got[2].Model.Hash != "x" {
		t.Errorf("benchmark ranking %+v, want y 1, z 1, x 3", got)
	}
}

func TestMemSourceRefusesPrivateRDMs(t *testing.T) {
	b := bench("p", "IT")
	b.Private = true
	src := leaderboard.NewMemSource(nil, []leaderboard.BenchmarkInfo{b}, nil)
	src.SetBrainRDM("p", 3, []float64{1, 2, 3})
	src.SetModelRDM("m", "p", 3, []float64{1, 2, 3})
	ctx := context.Background()
	if _, _, err := src.BrainRDM(ctx, "p"); leaderboard.ErrorCode(err) != leaderboard.EFORBIDDEN {
		t.Errorf("BrainRDM of a private benchmark: %v, want %s", err, leaderboard.EFORBIDDEN)
	}
	if _, _, err := src.ModelRDM(ctx, "m", "p"); leaderboard.ErrorCode(err) != leaderboard.EFORBIDDEN {
		t.Errorf("ModelRDM on a private benchmark: %v, want %s", err, leaderboard.EFORBIDDEN)
	}
}

func TestErrorMessageHidesInternal(t *testing.T) {
	if m := leaderboard.ErrorMessage(context.DeadlineExceeded); m != "internal error" {
		t.Errorf("message %q", m)
	}
	if c := leaderboard.ErrorCode(context.DeadlineExceeded); c != leaderboard.EINTERNAL {
		t.Errorf("code %q", c)
	}
}

// A benchmark without a ceiling (a group RDM, a selection-only partner) is
// listed but neither averaged as 0 nor reported missing.
func TestRankUnceiledBenchmarkNotAveraged(t *testing.T) {
	group := bench("mit", "IT")
	group.Ceiling = math.NaN()
	bs := []leaderboard.BenchmarkInfo{bench("b1", "IT"), group, bench("v4", "V4")}
	noCeiling := scoring.Score{ModelHash: "a", ModelName: "a", BenchmarkID: "mit", BenchmarkVersion: "v1", Raw: 0.3, Ceiling: math.NaN(), Ceiled: math.NaN()}
	ss := []scoring.Score{score("a", "b1", 0.6), noCeiling, score("a", "v4", 0.2)}
	lb := leaderboard.NewIndex(nil, bs, ss).Rank(leaderboard.Filter{})
	if len(lb.Rows) != 1 {
		t.Fatalf("rows: %d", len(lb.Rows))
	}
	r := lb.Rows[0]
	// (IT: 0.6 alone) and (V4: 0.2) → 0.4; were mit counted as 0, IT would be 0.3.
	if math.Abs(r.Average-0.4) > tol || !r.Complete() {
		t.Fatalf("average %v missing %v, want 0.4 and complete", r.Average, r.Missing)
	}
	if len(lb.Benchmarks) != 3 {
		t.Fatalf("the unceiled benchmark should still be a column: %d columns", len(lb.Benchmarks))
	}
}
