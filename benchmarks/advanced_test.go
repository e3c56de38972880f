package benchmarks

import (
	"context"
	"errors"
	"image/color"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/ceiling"
	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

const rsaLine = "rsa: {distance: correlation, comparison: spearman}"

func TestParseAdvancedMetrics(t *testing.T) {
	for _, c := range []struct {
		name, metric string
		ceiling      string // replaces {method: rsa-nili} when set
		want         Metric
	}{
		{"reweighted defaults", "reweighted_rsa: {}", "",
			Metric{Kind: MetricReweightedRSA, Distance: "correlation", Comparison: "spearman", Folds: 5, Layers: 8}},
		{"reweighted all layers", "reweighted_rsa: {distance: euclidean, comparison: pearson, stimulus_folds: 4, seed: 3, layers: all}", "",
			Metric{Kind: MetricReweightedRSA, Distance: "euclidean", Comparison: "pearson", Folds: 4, Seed: 3}},
		{"variance partitioning", "variance_partitioning: {sets: [early, middle, late], layers: 9, folds: 4, seed: 2}", "{method: none, reason: R²}",
			Metric{Kind: MetricVariancePartitioning, Distance: "correlation", Folds: 4, Seed: 2, Layers: 9, Sets: []string{"early", "middle", "late"}}},
		{"feature weighted", "feature_weighted_rsa: {components: 12, layers: 4}", "",
			Metric{Kind: MetricFeatureWeightedRSA, Comparison: "spearman", Folds: 5, Layers: 4, Components: 12}},
		{"remix", "remix: {training: {dir: train, labels: {csv: t.csv, column: class}}, layers: all}", "",
			Metric{Kind: MetricRemix, Distance: "euclidean", Comparison: "spearman", Alphas: []float64{1}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(validManifest, rsaLine, c.metric, 1)
			if c.ceiling != "" {
				src = strings.Replace(src, "{method: rsa-nili}", c.ceiling, 1)
			}
			m, err := ParseManifest("m.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			got, _, _ := m.settings()
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("settings %+v, want %+v", got, c.want)
			}
			if !got.Kind.Advanced() || got.String() == string(got.Kind) {
				t.Errorf("kind %s: not advanced or no description", got.Kind)
			}
		})
	}
}

func TestParseAdvancedMetricErrors(t *testing.T) {
	for _, c := range []struct{ name, old, new, problem string }{
		{"unknown key", rsaLine, "reweighted_rsa: {folds: 5}", "unknown key folds"},
		{"two metrics", rsaLine, rsaLine + "\n  reweighted_rsa: {}", "exactly one of rsa, ridge, reweighted_rsa"},
		{"layers word", rsaLine, "reweighted_rsa: {layers: many}", `layers "many"`},
		{"one layer", rsaLine, "reweighted_rsa: {layers: 1}", "from 2 to 1000"},
		{"one fold", rsaLine, "reweighted_rsa: {stimulus_folds: 1}", "stimulus_folds 1"},
		{"bad sets", rsaLine, "variance_partitioning: {sets: [early, deep]}", "want [early, late] or [early, middle, late]"},
		{"too few layers per set", rsaLine, "variance_partitioning: {layers: 3}", "from 4 to 1000"},
		{"varpart on all layers", rsaLine, "variance_partitioning: {layers: all}", "from 4 to 32"},
		{"varpart with a correlation ceiling", rsaLine, "variance_partitioning: {}", "R², for which the rsa-nili ceiling"},
		{"decoding on rdms", rsaLine, "decoding: {alphas: [1, 10]}", "decoding needs responses or sessions"},
		{"decoding without alphas", rsaLine, "decoding: {components: 5}", "metric.decoding.alphas"},
		{"one component", rsaLine, "feature_weighted_rsa: {components: 1}", "at least 2 components"},
		{"times without time metric", "rdms: {file: rdms.npy}", "rdms: {file: rdms.npy, times: t.npy}", "needs metric time_resolved_rsa"},
		{"time metric without times", rsaLine, "time_resolved_rsa: {}", "needs rdms with times"},
		{"times as csv", "rdms: {file: rdms.npy}", "rdms: {file: rdms.npy, times: t.csv}", "times must be a .npy"},
		{"remix without labels", rsaLine, "remix: {training: {dir: train}}", "metric.remix.training.labels is required"},
		{"remix without images", rsaLine, "remix: {training: {labels: {csv: t.csv, column: c}}}", "metric.remix.training: give exactly one of dir and zip"},
		{"remix negative alpha", rsaLine, "remix: {training: {dir: t, labels: {csv: t.csv, column: c}}, alpha: -1}", "metric.remix.alpha"},
		{"times and sessions", "rdms: {file: rdms.npy}", "rdms: {file: rdms.npy, times: t.npy, sessions: mean}", "give sessions or times"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(validManifest, c.old, c.new, 1)
			if src == validManifest {
				t.Fatal("edit did not apply")
			}
			_, err := ParseManifest("m.yaml", []byte(src))
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.File != "m.yaml" || !strings.Contains(ve.Problem, c.problem) {
				t.Fatalf("error %v: want a ValidationError naming m.yaml with %q", err, c.problem)
			}
		})
	}
}

// TestVersionsUnchangedByAdvancedMetrics pins the versions of an RSA and a
// ridge benchmark to the values computed by the code before the advanced
// metrics were added (git 6f208f7, the same writeValid data): adding
// metric kinds and dataset fields must not invalidate stored scores.
func TestVersionsUnchangedByAdvancedMetrics(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeValid(t, dir)
	res, err := NewRegistry(objstore.NewMemory()).Add(ctx, filepath.Join(dir, "manifest.yaml"), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary.Version != "a058009347aca2dd" {
		t.Errorf("RSA version %s, want a058009347aca2dd", res.Summary.Version)
	}
	editManifest(t, dir, rsaLine, "ridge: {folds: 3, alphas: [1, 10], seed: 2}")
	editManifest(t, dir, "rdms: {file: rdms.npy}", "responses: {file: resp.npy}")
	editManifest(t, dir, "{method: rsa-nili}", "{method: none, reason: test}")
	writeArray(t, dir, "resp.npy", []int{2, 4}, []float64{1, 2, 3, 4, 4, 3, 2, 5})
	res, err = NewRegistry(objstore.NewMemory()).Add(ctx, filepath.Join(dir, "manifest.yaml"), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary.Version != "7d31af966a192492" {
		t.Errorf("ridge version %s, want 7d31af966a192492", res.Summary.Version)
	}
}

// TestAdvancedSettingsEnterVersion checks that every advanced setting
// changes the version.
func TestAdvancedSettingsEnterVersion(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeValid(t, dir)
	reg := NewRegistry(objstore.NewMemory())
	manifest := filepath.Join(dir, "manifest.yaml")
	editManifest(t, dir, rsaLine, "reweighted_rsa: {layers: 8}")
	first, err := reg.Add(ctx, manifest, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{first.Summary.Version: "layers 8"}
	for _, e := range []struct{ old, new string }{
		{"reweighted_rsa: {layers: 8}", "reweighted_rsa: {layers: 6}"},
		{"reweighted_rsa: {layers: 6}", "reweighted_rsa: {layers: 6, seed: 1}"},
		{"reweighted_rsa: {layers: 6, seed: 1}", "reweighted_rsa: {layers: 6, seed: 1, stimulus_folds: 3}"},
		{"reweighted_rsa: {layers: 6, seed: 1, stimulus_folds: 3}", "feature_weighted_rsa: {layers: 6, seed: 1, stimulus_folds: 3}"},
		{"feature_weighted_rsa: {layers: 6, seed: 1, stimulus_folds: 3}", "feature_weighted_rsa: {layers: 6, seed: 1, stimulus_folds: 3, components: 3}"},
	} {
		editManifest(t, dir, e.old, e.new)
		res, err := reg.Add(ctx, manifest, AddOptions{NewVersion: true})
		if err != nil {
			t.Fatalf("%s: %v", e.new, err)
		}
		if prev, ok := seen[res.Summary.Version]; ok {
			t.Errorf("%s has the version of %s", e.new, prev)
		}
		seen[res.Summary.Version] = e.new
	}
}

// writeTimeResolved writes the tiny data set with time-resolved RDMs: 3
// subjects × 5 times × 4 × 4.
func writeTimeResolved(t *testing.T, dir string) {
	writeValid(t, dir)
	const s, nt, n = 3, 5, 4
	base := testRDMs(s, n)
	data := make([]float64, 0, s*nt*n*n)
	for i := 0; i < s; i++ {
		for k := 0; k < nt; k++ {
			for _, v := range base[i*n*n : (i+1)*n*n] {
				data = append(data, v*float64(k+1))
			}
		}
	}
	writeArray(t, dir, "meg.npy", []int{s, nt, n, n}, data)
	writeArray(t, dir, "times.npy", []int{nt}, []float64{-0.1, 0, 0.1, 0.2, 0.3})
	editManifest(t, dir, "rdms: {file: rdms.npy}", "rdms: {file: meg.npy, times: times.npy}")
	editManifest(t, dir, rsaLine, "time_resolved_rsa: {}")
}

func TestTimeResolvedImport(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeTimeResolved(t, dir)
	reg := NewRegistry(objstore.NewMemory())
	res, err := reg.Add(ctx, filepath.Join(dir, "manifest.yaml"), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary
	if s.Kind != KindTimeRDM || s.Subjects != 3 || s.Stimuli != 4 || !s.CeilingValid || s.Files != 6 {
		t.Errorf("summary %+v", s)
	}
	l, err := reg.Open(ctx, "test.valid")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.TimeRDMs) != 3 || len(l.TimeRDMs[0]) != 5 || len(l.TimeRDMs[0][0]) != 6 || !reflect.DeepEqual(l.Times, []float64{-0.1, 0, 0.1, 0.2, 0.3}) {
		t.Fatalf("loaded %d subjects, times %v", len(l.TimeRDMs), l.Times)
	}
	// Time 2 is 3 × the base RDM: pair (0, 1) of subject 0.
	if want := 3 * testRDMs(3, 4)[1]; l.TimeRDMs[0][2][0] != want {
		t.Errorf("subject 0, time 2, pair (0,1) = %v, want %v", l.TimeRDMs[0][2][0], want)
	}
}

func TestTimeResolvedImportErrors(t *testing.T) {
	for _, c := range []struct {
		name, file, problem string
		mutate              func(t *testing.T, dir string)
	}{
		{"times length", "times.npy", "want (5,)", func(t *testing.T, d string) {
			writeArray(t, d, "times.npy", []int{4}, []float64{0, 1, 2, 3})
		}},
		{"times not increasing", "times.npy", "times must increase", func(t *testing.T, d string) {
			writeArray(t, d, "times.npy", []int{5}, []float64{0, 1, 1, 2, 3})
		}},
		{"three axes", "meg.npy", "must be (subjects, times, n, n)", func(t *testing.T, d string) {
			writeArray(t, d, "meg.npy", []int{3, 4, 4}, testRDMs(3, 4))
		}},
		{"asymmetric", "meg.npy", "subject 0, time 0: not symmetric", func(t *testing.T, d string) {
			data := make([]float64, 3*5*16)
			copy(data, testRDMs(1, 4))
			data[1] += 1
			writeArray(t, d, "meg.npy", []int{3, 5, 4, 4}, data)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTimeResolved(t, dir)
			c.mutate(t, dir)
			_, err := NewRegistry(objstore.NewMemory()).Add(context.Background(), filepath.Join(dir, "manifest.yaml"), AddOptions{})
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.HasSuffix(ve.File, c.file) || !strings.Contains(ve.Problem, c.problem) {
				t.Fatalf("error %v: want a ValidationError on %s with %q", err, c.file, c.problem)
			}
		})
	}
}

func TestRemixImport(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T, labels string) string {
		dir := t.TempDir()
		writeValid(t, dir)
		writeFile(t, dir, "train/x.png", testPNG(t, color.RGBA{9, 9, 9, 255}))
		writeFile(t, dir, "train/y.png", testPNG(t, color.RGBA{200, 9, 9, 255}))
		writeFile(t, dir, "train.csv", []byte(labels))
		editManifest(t, dir, rsaLine, "remix: {training: {dir: train, labels: {csv: train.csv, column: class, match: file}}}")
		return dir
	}
	dir := setup(t, "file,class\nx.png,dark\ny.png,red\n")
	reg := NewRegistry(objstore.NewMemory())
	res, err := reg.Add(ctx, filepath.Join(dir, "manifest.yaml"), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary.Files != 7 {
		t.Errorf("%d files, want 7 (4 stimuli, the RDMs, 2 training images)", res.Summary.Files)
	}
	l, err := reg.Open(ctx, "test.valid")
	if err != nil {
		t.Fatal(err)
	}
	if l.Training == nil || l.Training.Len() != 2 || !reflect.DeepEqual(l.Training.Labels(), []string{"dark", "red"}) {
		t.Fatalf("training set not loaded: %+v", l.Training)
	}
	if _, err := l.Training.Image(ctx, 1); err != nil {
		t.Errorf("training image: %v", err)
	}

	for _, c := range []struct{ name, labels, problem string }{
		{"one class", "file,class\nx.png,dark\ny.png,dark\n", "at least 2"},
	} {
		dir := setup(t, c.labels)
		_, err := NewRegistry(objstore.NewMemory()).Add(ctx, filepath.Join(dir, "manifest.yaml"), AddOptions{})
		var ve *ValidationError
		if !errors.As(err, &ve) || !strings.Contains(ve.Problem, c.problem) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.problem)
		}
	}
	// A training image that is a benchmark stimulus is refused.
	dir = setup(t, "file,class\nx.png,dark\ny.png,red\n")
	stim, err := os.ReadFile(filepath.Join(dir, "stimuli", "a.png"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "train/y.png", stim)
	_, err = NewRegistry(objstore.NewMemory()).Add(ctx, filepath.Join(dir, "manifest.yaml"), AddOptions{})
	var ve *ValidationError
	if !errors.As(err, &ve) || !strings.Contains(ve.Problem, "is the benchmark stimulus a.png") {
		t.Errorf("overlap: error %v", err)
	}
}

// TestCeilingPool: ceiling.pool standardized (rsatoolbox's pooling) gives
// the ceiling scoring/ceiling computes that way and a new version, while
// "mean" is the default and leaves the version as it was; misuse is
// refused.
func TestCeilingPool(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeValid(t, dir)
	reg := NewRegistry(objstore.NewMemory())
	manifest := filepath.Join(dir, "manifest.yaml")
	first, err := reg.Add(ctx, manifest, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	editManifest(t, dir, "{method: rsa-nili}", "{method: rsa-nili, pool: mean}")
	same, err := reg.Add(ctx, manifest, AddOptions{})
	if err != nil || same.Status != StatusUnchanged {
		t.Fatalf("pool: mean changed the benchmark: %+v %v", same, err)
	}
	editManifest(t, dir, "pool: mean", "pool: standardized")
	std, err := reg.Add(ctx, manifest, AddOptions{NewVersion: true})
	if err != nil || std.Summary.Version == first.Summary.Version {
		t.Fatalf("pool: standardized: %+v %v", std, err)
	}
	raw := testRDMs(3, 4)
	subj := make([][]float64, 3)
	for s := range subj {
		for i := 0; i < 4; i++ {
			for j := i + 1; j < 4; j++ {
				subj[s] = append(subj[s], raw[s*16+i*4+j])
			}
		}
	}
	want, err := ceiling.RSACeilingPool(subj, rsa.Spearman, ceiling.PoolStandardized)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := ceiling.RSACeiling(subj, rsa.Spearman)
	if std.Summary.CeilingUpper != want.Upper || first.Summary.CeilingUpper != plain.Upper {
		t.Errorf("ceilings %v (standardized) and %v (mean), want %v and %v", std.Summary.CeilingUpper, first.Summary.CeilingUpper, want.Upper, plain.Upper)
	}
	for _, c := range []struct {
		edits [][2]string
		msg   string
	}{
		{[][2]string{{"{method: rsa-nili}", "{method: rsa-nili, pool: median}"}}, "want mean or standardized"},
		{[][2]string{{"{method: rsa-nili}", "{method: rsa-nili, pool: standardized}"}, {rsaLine, "reweighted_rsa: {layers: 8}"}}, "metric rsa only"},
		{[][2]string{{"{method: rsa-nili}", "{method: none, reason: x, pool: mean}"}}, "only for rsa-nili"},
	} {
		d := t.TempDir()
		writeValid(t, d)
		for _, e := range c.edits {
			editManifest(t, d, e[0], e[1])
		}
		if _, err := NewRegistry(objstore.NewMemory()).Add(ctx, filepath.Join(d, "manifest.yaml"), AddOptions{}); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: got %v, want an error mentioning %q", c.edits, err, c.msg)
		}
	}
}
