package leaderboard_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/apierr"
	"github.com/cortexbench/cortexbench/scoring"
)

// fakeRSA is a Comparer answering one pair on the benchmark rsaID (as
// stores.Comparer does over the stored RDMs) and EUNSUPPORTED elsewhere:
// the two-model comparison around it is what is tested.
type fakeRSA struct {
	rsaID string
	pair  leaderboard.ModelPair // hashA − hashB
	skip  string                // a model reported as skipped
	calls int
}

func (f *fakeRSA) Compare(_ context.Context, id string, hashes []string) (*leaderboard.Comparison, error) {
	f.calls++
	if id != f.rsaID {
		return nil, leaderboard.Errorf(leaderboard.EUNSUPPORTED, "%s is scored by ridge: model comparisons are computed for RSA benchmarks only for now", id)
	}
	c := &leaderboard.Comparison{BenchmarkID: id, Resamples: 1000, Seed: 1}
	for _, h := range hashes {
		if h == f.skip {
			c.Skipped = append(c.Skipped, leaderboard.SkippedModel{Hash: h, Reason: "no stored RDM of its reported layer"})
			continue
		}
		c.Models = append(c.Models, h)
	}
	if len(c.Models) == 2 {
		c.Scores = []float64{0.3, 0.35}
		p := f.pair
		if hashes[0] != hashA { // the pair is oriented as asked
			p.Diff, p.Lower, p.Upper = -p.Diff, -p.Upper, -p.Lower
		}
		p.A, p.B = hashes[0], hashes[1]
		c.Pairs = []leaderboard.ModelPair{p}
	}
	return c, nil
}

const (
	hashA = "aaaaaaaa11111111aaaaaaaa11111111aaaaaaaa11111111aaaaaaaa11111111"
	hashB = "bbbbbbbb22222222bbbbbbbb22222222bbbbbbbb22222222bbbbbbbb22222222"
	hashC = "aaaaaaaa99999999aaaaaaaa99999999aaaaaaaa99999999aaaaaaaa99999999"
)

// twoModelFixture: an RSA benchmark (ceiling 0.6), an encoding benchmark
// with per-split scores of the same 10 seeded splits (ceiling 0.5), an
// encoding benchmark scored with a committed layer (no splits: ceiling
// 0.8), and one only model A is scored on.
func twoModelFixture() *leaderboard.Index {
	bs := []leaderboard.BenchmarkInfo{
		{ID: "rsa.IT", Version: "v1", Region: "IT", Ceiling: 0.6},
		{ID: "enc.V4", Version: "v1", Region: "V4", Ceiling: 0.5},
		{ID: "enc.IT", Version: "v1", Region: "IT", Ceiling: 0.8},
		{ID: "only.V1", Version: "v1", Region: "V1", Ceiling: 0.7},
	}
	ms := []leaderboard.ModelInfo{{Hash: hashA, Name: "resnet18"}, {Hash: hashB, Name: "alexnet"}, {Hash: hashC, Name: "squeezenet1_1"}}
	sc := func(h, b string, raw, se, ceil float64) scoring.Score {
		return scoring.Score{ModelHash: h, BenchmarkID: b, BenchmarkVersion: "v1", Raw: raw, SE: se, Ceiling: ceil, Ceiled: raw / ceil,
			CILow: raw - 2*se, CIHigh: raw + 2*se, Layer: "L1." + h[:4]}
	}
	splitsA := []float64{0.30, 0.32, 0.28, 0.31, 0.29, 0.33, 0.30, 0.27, 0.31, 0.30}
	splitsB := []float64{0.36, 0.35, 0.33, 0.37, 0.34, 0.38, 0.36, 0.31, 0.35, 0.37}
	encA, encB := sc(hashA, "enc.V4", 0.301, 0.005, 0.5), sc(hashB, "enc.V4", 0.352, 0.006, 0.5)
	encA.SelectionData = scoring.Selection{Method: scoring.HeldOutStimuli, Splits: 10, Seed: 1, PerSplit: splitsA}
	encB.SelectionData = scoring.Selection{Method: scoring.HeldOutStimuli, Splits: 10, Seed: 1, PerSplit: splitsB}
	encA.Layers = []scoring.LayerScore{{Layer: "L1.aaaa", Depth: 0.5, Raw: 0.3, Ceiled: 0.6, SE: 0.01}}
	ss := []scoring.Score{
		sc(hashA, "rsa.IT", 0.30, 0.02, 0.6), sc(hashB, "rsa.IT", 0.33, 0.02, 0.6),
		encA, encB,
		sc(hashA, "enc.IT", 0.40, 0.02, 0.8), sc(hashB, "enc.IT", 0.35, 0.03, 0.8),
		sc(hashA, "only.V1", 0.2, 0.01, 0.7),
		sc(hashC, "rsa.IT", 0.1, 0.01, 0.6),
	}
	return leaderboard.NewIndex(ms, bs, ss)
}

// TestCompareModelsKnownDifferences checks every row against values
// computed with scipy 1.10.1 / numpy 1.24.2 (scipy.stats.t.sf and .ppf
// with 9 df, scipy.stats.norm.sf, numpy std with ddof=1; BH by hand):
//
//	enc.V4 (paired over splits): d = B − A per split, mean 0.051, SE = sd·√(1/10 + 1),
//	  t with 9 df: p = 0.0028350109151966604; ceiled (÷0.5) diff 0.102, CI [0.04519027162314774, 0.15880972837685228]
//	enc.IT (unpaired): (0.35 − 0.40)/√(0.02² + 0.03²): p = 0.1655178586974697,
//	  ceiled (÷0.8) diff −0.0625, CI [−0.15083438305402347, 0.025834383054023375]
//	rsa.IT (the bootstrap's pair A − B = −0.05 [−0.08, −0.02], p 0.004): B − A = 0.05/0.6 [0.02/0.6, 0.08/0.6]
//	q (BH over 0.004, 0.002835, 0.16552): 0.006, 0.006, 0.16552
func TestCompareModelsKnownDifferences(t *testing.T) {
	ix := twoModelFixture()
	cmp := &fakeRSA{rsaID: "rsa.IT", pair: leaderboard.ModelPair{Diff: -0.05, Lower: -0.08, Upper: -0.02, P: 0.004}}
	c, err := leaderboard.CompareModels(context.Background(), ix, cmp, hashA, hashB, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]leaderboard.BenchmarkDiff{}
	for _, r := range c.Rows {
		rows[r.Benchmark.ID] = r
	}
	if len(c.Rows) != 3 {
		t.Fatalf("rows %v, want rsa.IT, enc.V4, enc.IT", rows)
	}
	near := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.17g, want %.17g", what, got, want)
		}
	}
	r := rows["rsa.IT"]
	if r.Test != leaderboard.TestPairedStimuli || r.Units != "ceiled" {
		t.Errorf("rsa.IT: test %q units %q", r.Test, r.Units)
	}
	near("rsa diff", r.Diff, 0.05/0.6, 1e-15)
	near("rsa lower", r.Lower, 0.02/0.6, 1e-15)
	near("rsa upper", r.Upper, 0.08/0.6, 1e-15)
	near("rsa p", r.P, 0.004, 0)
	near("rsa q", r.Q, 0.006, 1e-15)
	if r.Winner() != "B" || r.A.Layer != "L1.aaaa" || r.B.Layer != "L1.bbbb" {
		t.Errorf("rsa.IT: winner %q, layers %q %q", r.Winner(), r.A.Layer, r.B.Layer)
	}
	near("rsa A score", r.A.Value, 0.5, 1e-15)
	if !strings.Contains(r.Note, "raw on all stimuli: A 0.3000, B 0.3500") {
		t.Errorf("rsa.IT note %q does not give the bootstrap's reference scores", r.Note)
	}
	near("rsa B CI high", r.B.Upper, 0.37/0.6, 1e-15)

	r = rows["enc.V4"]
	if r.Test != leaderboard.TestPairedSplits || r.Units != "ceiled" {
		t.Errorf("enc.V4: test %q units %q (%s)", r.Test, r.Units, r.Note)
	}
	near("enc diff", r.Diff, 0.102, 1e-12)
	near("enc se", r.DiffSE, 0.025113077602449838, 1e-12)
	near("enc p", r.P, 0.0028350109151966604, 1e-9)
	near("enc lower", r.Lower, 0.04519027162314774, 1e-9)
	near("enc upper", r.Upper, 0.15880972837685228, 1e-9)
	near("enc q", r.Q, 0.006, 1e-15)
	if r.Winner() != "B" {
		t.Errorf("enc.V4 winner %q", r.Winner())
	}

	r = rows["enc.IT"]
	if r.Test != leaderboard.TestUnpaired || !strings.Contains(r.Note, "no per-split values") {
		t.Errorf("enc.IT: test %q note %q", r.Test, r.Note)
	}
	near("unpaired diff", r.Diff, -0.0625, 1e-12)
	near("unpaired p", r.P, 0.1655178586974697, 1e-12)
	near("unpaired lower", r.Lower, -0.15083438305402347, 1e-12)
	near("unpaired upper", r.Upper, 0.025834383054023375, 1e-12)
	near("unpaired q", r.Q, 0.1655178586974697, 1e-12)
	if r.Reliable() || r.Winner() != "" {
		t.Errorf("enc.IT: reliable %v winner %q at q %g", r.Reliable(), r.Winner(), r.Q)
	}

	if len(c.NotCompared) != 1 || c.NotCompared[0].Benchmark.ID != "only.V1" || c.NotCompared[0].Has != "A" || !strings.Contains(c.NotCompared[0].Reason, "only resnet18 (A)") {
		t.Errorf("not compared: %+v", c.NotCompared)
	}
	s := c.Summary
	if s.Compared != 3 || s.BWins != 2 || s.AWins != 0 || s.N != 3 {
		t.Errorf("summary %+v", s)
	}
	near("mean diff", s.MeanDiff, (0.05/0.6+0.102-0.0625)/3, 1e-12)
	rsaSE := (0.08 - 0.02) / 0.6 / (2 * 1.959963984540054)
	h := 1.959963984540054 * (rsaSE + 0.025113077602449838 + 0.04506939094329986) / 3
	near("mean lower", s.Lower, s.MeanDiff-h, 1e-9)
	near("mean upper", s.Upper, s.MeanDiff+h, 1e-9)
	if c.Resamples != 1000 || c.Seed != 1 {
		t.Errorf("resamples %d seed %d", c.Resamples, c.Seed)
	}

	// Swapping the models negates every difference and keeps p and q.
	sw, err := leaderboard.CompareModels(context.Background(), ix, cmp, hashB, hashA, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range sw.Rows {
		if math.Abs(r.Diff+c.Rows[i].Diff) > 1e-12 || math.Abs(r.Lower+c.Rows[i].Upper) > 1e-12 || math.Abs(r.P-c.Rows[i].P) > 1e-12 {
			t.Errorf("%s swapped: %+v vs %+v", r.Benchmark.ID, r, c.Rows[i])
		}
	}
	if sw.Summary.AWins != 2 || sw.NotCompared[0].Has != "B" {
		t.Errorf("swapped summary %+v, not compared %+v", sw.Summary, sw.NotCompared)
	}
}

// TestCompareModelsFallbacks: without a comparer, or with a model's RDM
// missing, an RSA benchmark falls back to the next test and says why;
// splits that differ are not paired; --benchmark limits the rows and an
// unknown one is ENOTFOUND; the same model twice is refused.
func TestCompareModelsFallbacks(t *testing.T) {
	ix := twoModelFixture()
	ctx := context.Background()
	c, err := leaderboard.CompareModels(ctx, ix, nil, hashA, hashB, []string{"rsa.IT"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Rows) != 1 || c.Rows[0].Test != leaderboard.TestUnpaired || c.Resamples != 0 || len(c.NotCompared) != 0 {
		t.Errorf("no comparer: %+v", c)
	}
	cmp := &fakeRSA{rsaID: "rsa.IT", skip: hashB}
	c, err = leaderboard.CompareModels(ctx, ix, cmp, hashA, hashB, []string{"rsa.IT", "only.V1"})
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Rows[0]; r.Test != leaderboard.TestUnpaired || !strings.Contains(r.Note, "B: no stored RDM") {
		t.Errorf("skipped RDM: test %q note %q", r.Test, r.Note)
	}
	if len(c.NotCompared) != 1 || c.NotCompared[0].Has != "A" {
		t.Errorf("not compared %+v", c.NotCompared)
	}
	// C is scored only on rsa.IT: on enc.V4 only B has a score.
	c, err = leaderboard.CompareModels(ctx, ix, nil, hashC, hashB, []string{"enc.V4"})
	if err != nil || len(c.Rows) != 0 || len(c.NotCompared) != 1 || c.NotCompared[0].Has != "B" || c.Summary.Compared != 0 || !math.IsNaN(c.Summary.MeanDiff) {
		t.Errorf("one-sided: %v %+v", err, c)
	}
	if _, err := leaderboard.CompareModels(ctx, ix, nil, hashA, hashB, []string{"nosuch.IT"}); leaderboard.ErrorCode(err) != leaderboard.ENOTFOUND {
		t.Errorf("unknown benchmark: %v", err)
	}
	if _, err := leaderboard.CompareModels(ctx, ix, nil, hashA, hashA, nil); leaderboard.ErrorCode(err) != leaderboard.EINVALID {
		t.Errorf("same model twice: %v", err)
	}
	// An internal error of the comparer ends the comparison.
	if _, err := leaderboard.CompareModels(ctx, ix, failing{}, hashA, hashB, nil); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("comparer failure: %v", err)
	}
}

type failing struct{}

func (failing) Compare(context.Context, string, []string) (*leaderboard.Comparison, error) {
	return nil, errors.New("disk on fire")
}

// TestCompareModelsSplitsMustMatch: per-split scores of other splits
// (another seed) are not paired; the unpaired test is used and the note
// says why.
func TestCompareModelsSplitsMustMatch(t *testing.T) {
	bs := []leaderboard.BenchmarkInfo{{ID: "enc.V4", Version: "v1", Region: "V4", Ceiling: 0.5}}
	mk := func(h string, seed uint64, per []float64) scoring.Score {
		return scoring.Score{ModelHash: h, BenchmarkID: "enc.V4", BenchmarkVersion: "v1", Raw: 0.3, SE: 0.01, Ceiling: 0.5, Ceiled: 0.6,
			SelectionData: scoring.Selection{Method: scoring.CrossValidated, Splits: len(per), Seed: seed, PerSplit: per}}
	}
	ix := leaderboard.NewIndex(nil, bs, []scoring.Score{mk(hashA, 1, []float64{0.3, 0.31, 0.29}), mk(hashB, 2, []float64{0.4, 0.41, 0.39})})
	c, err := leaderboard.CompareModels(context.Background(), ix, nil, hashA, hashB, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Rows[0]; r.Test != leaderboard.TestUnpaired || !strings.Contains(r.Note, "different splits") {
		t.Errorf("other seeds paired: %q %q", r.Test, r.Note)
	}
	// The same folds: paired, with the fold correction 1/K + 1/(K−1).
	ix = leaderboard.NewIndex(nil, bs, []scoring.Score{mk(hashA, 1, []float64{0.3, 0.31, 0.29}), mk(hashB, 1, []float64{0.4, 0.42, 0.39})})
	c, err = leaderboard.CompareModels(context.Background(), ix, nil, hashA, hashB, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := []float64{0.1, 0.11, 0.1}
	mean := (d[0] + d[1] + d[2]) / 3
	var ss float64
	for _, v := range d {
		ss += (v - mean) * (v - mean)
	}
	se := math.Sqrt(ss/2) * math.Sqrt(1.0/3+1.0/2)
	if r := c.Rows[0]; r.Test != leaderboard.TestPairedSplits || math.Abs(r.DiffSE-se/0.5) > 1e-12 || math.Abs(r.Diff-mean/0.5) > 1e-12 {
		t.Errorf("folds: %+v, want SE %g", r, se/0.5)
	}
}

// TestResolveModel: a full id, a unique prefix of 8 or more hex digits, a
// name (any case); an ambiguous prefix and an unknown name say what to do.
func TestResolveModel(t *testing.T) {
	ix := twoModelFixture()
	for ref, want := range map[string]string{hashB: hashB, "bbbbbbbb": hashB, "BBBBBBBB2222": hashB, "alexnet": hashB, "ResNet18": hashA, "aaaaaaaa9": hashC} {
		m, err := ix.ResolveModel(ref)
		if err != nil || m.Hash != want {
			t.Errorf("ResolveModel(%q) = %s, %v; want %s", ref, m.Hash, err, want)
		}
	}
	_, err := ix.ResolveModel("aaaaaaaa")
	if leaderboard.ErrorCode(err) != apierr.ECONFLICT || !strings.Contains(err.Error(), "ambiguous") || !strings.Contains(err.Error(), "resnet18") {
		t.Errorf("ambiguous prefix: %v", err)
	}
	_, err = ix.ResolveModel("resnet19")
	if leaderboard.ErrorCode(err) != leaderboard.ENOTFOUND || !strings.Contains(err.Error(), "closest names: resnet18") {
		t.Errorf("unknown name: %v", err)
	}
	// A short hex prefix is not an id prefix.
	if _, err := ix.ResolveModel("bbbb"); leaderboard.ErrorCode(err) != leaderboard.ENOTFOUND {
		t.Errorf("4-digit prefix: %v", err)
	}
}
