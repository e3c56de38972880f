package benchmarks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/scoring/ceiling"
	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

// conventionsRef is testdata/conventions/reference.json, written by
// gen_reference.py (numpy and scipy; their versions are in the file).
type conventionsRef struct {
	Numpy, Scipy string
	LOSO         map[string]struct {
		LOSO       float64   `json:"loso"`
		LOSOR2     float64   `json:"loso_r2"`
		PerSubject []float64 `json:"per_subject"`
	} `json:"loso"`
	SplitHalf fixtureRef `json:"splithalf"`
	CV        fixtureRef `json:"cv"`
	Squared   struct {
		Ceiling    float64
		Raw, Value []float64
	} `json:"squared_clipped"`
}

type fixtureRef struct {
	RDMs          [][]float64    `json:"rdms"`
	Halves        [2][][]float64 `json:"halves"`
	Diagonal      float64        `json:"diagonal"`
	HalvesCeiling float64        `json:"halves_ceiling"`
	HalvesR2      float64        `json:"halves_r2"`
	Upper         float64        `json:"upper"`
	UpperR2       float64        `json:"upper_r2"`
	LOSO          float64        `json:"loso"`
	LOSOR2        float64        `json:"loso_r2"`
}

func readConventionsRef(t *testing.T) conventionsRef {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "conventions", "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref conventionsRef
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	return ref
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if !(math.Abs(got-want) <= tol) {
		t.Errorf("%s: got %.15g, numpy %.15g (tolerance %g)", what, got, want, tol)
	}
}

// TestLOSOCeilingsMatchNumpy checks the leave-one-subject-out ceilings of
// Algonauts-92 IT and EVC and Kriegeskorte hIT (session means), computed
// by the import and by ceiling.LeaveOneSubjectOut on the loaded RDMs,
// against numpy/scipy to 1e-10. It also checks that a small benchmark of
// region IT commits by default on the catalogue's commit benchmark.
func TestLOSOCeilingsMatchNumpy(t *testing.T) {
	dir := datasetsDir(t)
	ref := readConventionsRef(t)
	t.Logf("reference: numpy %s, scipy %s", ref.Numpy, ref.Scipy)
	ctx := context.Background()
	reg := NewRegistry(objstore.NewMemory())
	ids := []string{"algonauts2019-92.IT", "algonauts2019-92.EVC", "kriegeskorte2008.hIT"}
	if _, err := reg.ImportBuiltin(ctx, dir, ids, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(ref.LOSO) != len(ids) {
		t.Fatalf("reference has %d data sets, want %d", len(ref.LOSO), len(ids))
	}
	for _, id := range ids {
		want := ref.LOSO[id]
		l, err := reg.Open(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		c := l.Ceiling
		near(t, id+" import LOSO", c.LOSO, want.LOSO, 1e-10)
		near(t, id+" import LOSO R²", c.LOSOR2, want.LOSOR2, 1e-10)
		v, per, err := ceiling.LeaveOneSubjectOut(l.RDMs, rsa.Spearman)
		if err != nil {
			t.Fatal(err)
		}
		near(t, id+" LeaveOneSubjectOut", v, want.LOSO, 1e-10)
		if len(per) != len(want.PerSubject) {
			t.Fatalf("%s: %d subjects, numpy %d", id, len(per), len(want.PerSubject))
		}
		for i := range per {
			near(t, fmt.Sprintf("%s subject %d", id, i), per[i], want.PerSubject[i], 1e-10)
		}
		if c.Bound != "" || c.Value() != c.Upper {
			t.Errorf("%s: bound %q, value %v; a built-in divides by the upper bound %v", id, c.Bound, c.Value(), c.Upper)
		}
		s := l.Benchmark.Summary()
		if s.CeilingBound != "upper" || s.CeilingValue != c.Upper || s.CeilingLOSO != c.LOSO || s.SelectionMode != SelectionHeldOut {
			t.Errorf("%s: summary bound %q value %v LOSO %v selection %q", id, s.CeilingBound, s.CeilingValue, s.CeilingLOSO, s.SelectionMode)
		}
	}

	// A 4-stimulus benchmark of region IT commits by default, on the
	// commit benchmark catalogue/regions.yaml names for IT.
	tiny := t.TempDir()
	writeValid(t, tiny)
	editManifest(t, tiny, "region: none", "region: IT")
	editManifest(t, tiny, "scoring: {selection: held-out}\n", "")
	res, err := reg.Add(ctx, filepath.Join(tiny, "manifest.yaml"), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := reg.Benchmark(ctx, "test.valid")
	if err != nil {
		t.Fatal(err)
	}
	cv := b.Conventions
	if cv.Selection != SelectionCommit || cv.Region != "IT" || !slices.Equal(cv.CommitOn, []string{"algonauts2019-92.IT"}) {
		t.Errorf("conventions %+v: want commitment to IT on algonauts2019-92.IT", cv)
	}
	if s := res.Summary; s.SelectionMode != SelectionCommit || s.CommitOn != "algonauts2019-92.IT" || !strings.Contains(s.Selection, "algonauts2019-92.IT") {
		t.Errorf("summary selection %q mode %q commit on %q", s.Selection, s.SelectionMode, s.CommitOn)
	}
	if res.Summary.Version == "a058009347aca2dd" {
		t.Error("committing did not change the version")
	}
}

// writeAsymmetric writes an 8-stimulus benchmark of the fixture file
// (splithalf.npy or cv.npy) with the given form.
func writeAsymmetric(t *testing.T, file, form string) string {
	t.Helper()
	dir := t.TempDir()
	for i := 0; i < 8; i++ {
		writeFile(t, dir, fmt.Sprintf("stimuli/s%d.png", i), testPNG(t, color.RGBA{uint8(30 * i), uint8(200 - 20*i), uint8(7 * i), 255}))
	}
	data, err := os.ReadFile(filepath.Join("testdata", "conventions", file))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "rdms.npy", data)
	formLine := ""
	if form != "" {
		formLine = ", form: " + form
	}
	writeFile(t, dir, "manifest.yaml", []byte(`id: test.asym
title: Asymmetric test benchmark
metadata: {species: synthetic, region: none, method: generated, licence: CC0-1.0, citation: "@misc{asym}"}
stimuli: {dir: stimuli, degrees: 8}
rdms: {file: rdms.npy`+formLine+`}
metric: {rsa: {distance: correlation, comparison: spearman}}
ceiling: {method: rsa-nili, bound: halves}
scoring: {selection: held-out, transform: squared-clipped}
`))
	return dir
}

// TestAsymmetricInputMatchesNumpy imports the split-half similarity and
// cross-validated dissimilarity fixtures and checks what the runner sees
// (Loaded.RDMs, Loaded.Halves) and the ceilings against numpy, and the
// squared-clipped transform on the halves ceiling.
func TestAsymmetricInputMatchesNumpy(t *testing.T) {
	ref := readConventionsRef(t)
	ctx := context.Background()
	for _, c := range []struct {
		file, form string
		want       fixtureRef
	}{
		{"splithalf.npy", FormSplitHalfSimilarity, ref.SplitHalf},
		{"cv.npy", FormCVDissimilarity, ref.CV},
	} {
		t.Run(c.form, func(t *testing.T) {
			dir := writeAsymmetric(t, c.file, c.form)
			reg := NewRegistry(objstore.NewMemory())
			res, err := reg.Add(ctx, filepath.Join(dir, "manifest.yaml"), AddOptions{})
			if err != nil {
				t.Fatal(err)
			}
			l, err := reg.Open(ctx, "test.asym")
			if err != nil {
				t.Fatal(err)
			}
			if len(l.RDMs) != 3 || len(l.Halves[0]) != 3 || len(l.Halves[1]) != 3 {
				t.Fatalf("%d subjects, halves %d and %d; want 3", len(l.RDMs), len(l.Halves[0]), len(l.Halves[1]))
			}
			for s := 0; s < 3; s++ {
				if len(l.RDMs[s]) != 28 {
					t.Fatalf("subject %d: %d pairs, want 28", s, len(l.RDMs[s]))
				}
				for k := range l.RDMs[s] {
					near(t, fmt.Sprintf("subject %d pair %d symmetrised", s, k), l.RDMs[s][k], c.want.RDMs[s][k], 1e-12)
					near(t, fmt.Sprintf("subject %d pair %d half 0", s, k), l.Halves[0][s][k], c.want.Halves[0][s][k], 1e-12)
					near(t, fmt.Sprintf("subject %d pair %d half 1", s, k), l.Halves[1][s][k], c.want.Halves[1][s][k], 1e-12)
				}
			}
			cl := l.Ceiling
			near(t, "halves ceiling", cl.Halves, c.want.HalvesCeiling, 1e-10)
			near(t, "halves R²", cl.HalvesR2, c.want.HalvesR2, 1e-10)
			near(t, "upper", cl.Upper, c.want.Upper, 1e-10)
			near(t, "upper R²", cl.UpperR2, c.want.UpperR2, 1e-10)
			near(t, "leave-one-subject-out", cl.LOSO, c.want.LOSO, 1e-10)
			near(t, "leave-one-subject-out R²", cl.LOSOR2, c.want.LOSOR2, 1e-10)
			near(t, "mean diagonal", cl.Diagonal, c.want.Diagonal, 1e-12)
			if cl.Bound != ceiling.BoundHalves || cl.Value() != cl.Halves {
				t.Errorf("bound %q value %v, want the halves ceiling %v", cl.Bound, cl.Value(), cl.Halves)
			}
			// The runner's route on a stimulus subset: ceiling.Halves on the
			// loaded triangles (all stimuli here) gives the import's value.
			if h, _, err := ceiling.Halves(l.Halves[0], l.Halves[1], rsa.Spearman); err != nil || h != cl.Halves {
				t.Errorf("ceiling.Halves on Loaded.Halves: %v, %v; import %v", h, err, cl.Halves)
			}
			b := l.Benchmark
			if b.Dataset.RDMs.Form != c.form || b.Conventions.Transform != ceiling.TransformSquaredClipped || b.Conventions.Degrees != 8 || b.Conventions.Selection != "" {
				t.Errorf("form %q conventions %+v", b.Dataset.RDMs.Form, b.Conventions)
			}
			s := res.Summary
			if s.CeilingBound != "halves" || s.CeilingValue != cl.Halves || s.CeilingValueR2 != cl.HalvesR2 || s.Form != c.form || s.Transform != "squared-clipped" || s.Degrees != 8 || s.Diagonal != cl.Diagonal {
				t.Errorf("summary %+v", s)
			}
		})
	}

	// squared-clipped against numpy, on the split-half fixture's ceiling.
	near(t, "fixture ceiling", ref.Squared.Ceiling, ref.SplitHalf.HalvesCeiling, 0)
	for i, raw := range ref.Squared.Raw {
		near(t, fmt.Sprintf("squared-clipped(%v)", raw), ceiling.Apply(raw, ref.Squared.Ceiling, ceiling.TransformSquaredClipped), ref.Squared.Value[i], 1e-12)
	}
}

// TestAsymmetricInputRefusals: asymmetric matrices without a form are
// refused naming form:, a form on symmetric matrices and NaN are refused,
// and nothing is stored.
func TestAsymmetricInputRefusals(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name, form, want string
		edit             func(t *testing.T, dir string)
	}{
		{"no form", "", "say so under rdms with form: split-half-similarity or form: cv-dissimilarity", nil},
		{"symmetric with form", FormCVDissimilarity, "the matrix is symmetric, but form cv-dissimilarity", func(t *testing.T, dir string) {
			writeArray(t, dir, "rdms.npy", []int{3, 8, 8}, testRDMs(3, 8))
		}},
		{"NaN", FormSplitHalfSimilarity, "subject 1: entry (2, 5) is not finite", func(t *testing.T, dir string) {
			r := testRDMs(3, 8)
			r[1], r[64+1], r[128+1] = 0.3, 0.3, 0.3 // asymmetric
			r[64+2*8+5] = math.NaN()
			writeArray(t, dir, "rdms.npy", []int{3, 8, 8}, r)
		}},
		{"wrong shape", FormSplitHalfSimilarity, "must be square", func(t *testing.T, dir string) {
			writeArray(t, dir, "rdms.npy", []int{3, 8, 7}, make([]float64, 3*8*7))
		}},
		{"lower bound of one subject", FormCVDissimilarity, "ceiling.bound lower compares each subject with the others and needs at least 2 subjects", func(t *testing.T, dir string) {
			r := testRDMs(1, 8)
			r[1] += 0.3
			writeArray(t, dir, "rdms.npy", []int{8, 8}, r)
			editManifest(t, dir, "bound: halves", "bound: lower")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeAsymmetric(t, "splithalf.npy", c.form)
			if c.edit != nil {
				c.edit(t, dir)
			}
			if c.form == "" {
				editManifest(t, dir, "bound: halves", "bound: upper")
			}
			store := objstore.NewMemory()
			_, err := NewRegistry(store).Add(ctx, filepath.Join(dir, "manifest.yaml"), AddOptions{})
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v: want a ValidationError containing %q", err, c.want)
			}
			t.Log(err)
			if n := objectCount(t, store); n != 0 {
				t.Errorf("a refused import stored %d objects", n)
			}
		})
	}
	// A group RDM with a form has a halves ceiling (no Nili bounds).
	dir := writeAsymmetric(t, "splithalf.npy", FormCVDissimilarity)
	r := testRDMs(1, 8)
	r[1] += 0.3
	writeArray(t, dir, "rdms.npy", []int{8, 8}, r)
	res, err := NewRegistry(objstore.NewMemory()).Add(ctx, filepath.Join(dir, "manifest.yaml"), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Summary; !s.CeilingValid || s.CeilingBound != "halves" || s.CeilingLOSO != 0 {
		t.Errorf("group RDM: ceiling valid %v bound %q LOSO %v", s.CeilingValid, s.CeilingBound, s.CeilingLOSO)
	}
}

// TestConventionsManifestErrors: every new setting's bad values are
// refused with a message saying what is allowed.
func TestConventionsManifestErrors(t *testing.T) {
	const sc = "scoring: {selection: held-out}"
	for _, c := range []struct{ name, old, new, want string }{
		{"bound", "{method: rsa-nili}", "{method: rsa-nili, bound: middle}", "ceiling.bound \"middle\": want upper, lower, leave-one-subject-out or halves"},
		{"halves without form", "{method: rsa-nili}", "{method: rsa-nili, bound: halves}", "halves needs asymmetric RDMs: rdms.form"},
		{"bound not nili", "{method: rsa-nili}", "{method: none, reason: r, bound: lower}", "ceiling.bound is only for rsa-nili"},
		{"bound with an advanced metric", "  rsa: {distance: correlation, comparison: spearman}\nceiling: {method: rsa-nili}",
			"  reweighted_rsa: {}\nceiling: {method: rsa-nili, bound: lower}", "ceiling.bound lower is supported for metric rsa only"},
		{"form", "rdms: {file: rdms.npy}", "rdms: {file: rdms.npy, form: similarity}", "rdms.form \"similarity\": want split-half-similarity or cv-dissimilarity"},
		{"form with times", "rdms: {file: rdms.npy}", "rdms: {file: rdms.npy, times: t.npy, form: cv-dissimilarity}", "form is not supported for time-resolved RDMs"},
		{"degrees negative", "dir: stimuli", "dir: stimuli\n  degrees: -3", "stimuli.degrees -3: want the images' size in degrees of visual angle"},
		{"degrees too large", "dir: stimuli", "dir: stimuli\n  degrees: 200", "a number above 0 and at most 180"},
		{"transform", sc, "scoring: {transform: cubed}", "scoring.transform \"cubed\": want ratio or squared-clipped"},
		{"transform without ceiling", "{method: rsa-nili}\nsplits: {count: 4, selection_fraction: 0.5, stratify_by_label: true, seed: 7}\nscoring: {selection: held-out}",
			"{method: none, reason: r}\nscoring: {transform: squared-clipped, selection: held-out}", "squared-clipped needs a ceiling"},
		{"features", sc, "scoring: {features: whiten}", "scoring.features \"whiten\": want as-is, zscore or zscore-reliable"},
		{"selection", sc, "scoring: {selection: sometimes}", "scoring.selection \"sometimes\": want commit or held-out"},
		{"commit on itself", sc, "scoring: {commit_on: [test.valid]}", "a benchmark cannot commit on itself"},
		{"commit_on repeated", sc, "scoring: {commit_on: [a.IT, a.IT]}", "scoring.commit_on[1] \"a.IT\" is repeated"},
		{"commit_on with held-out", sc, "scoring: {selection: held-out, commit_on: [a.IT]}", "are for selection commit, not held-out"},
		{"region", sc, "scoring: {region: 'I T'}", "scoring.region \"I T\" must be letters"},
		{"partner and scoring", "parent: test", "parent: test\npartner: other.pub", "give either partner or scoring.selection/region/commit_on"},
		{"unknown scoring key", sc, "scoring: {selection: held-out, bound: lower}", "unknown key bound"},
		{"private held-out", "parent: test", "parent: test\nprivate: true", "a private benchmark needs a partner"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(validManifest, c.old, c.new, 1)
			if src == validManifest {
				t.Fatal("edit did not apply")
			}
			_, err := ParseManifest("m.yaml", []byte(src))
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.Contains(ve.Problem, c.want) {
				t.Fatalf("error %v: want a ValidationError containing %q", err, c.want)
			}
		})
	}
	// Features and commitment are for rsa (and ridge) only.
	adv := strings.Replace(validManifest, "rsa: {distance: correlation, comparison: spearman}", "reweighted_rsa: {}", 1)
	for sc, want := range map[string]string{
		"scoring: {features: zscore}":  "scoring.features zscore is supported for metric rsa only",
		"scoring: {selection: commit}": "scoring.selection commit is for metric rsa or ridge",
		"scoring: {region: IT}":        "scoring.region and scoring.commit_on are for metric rsa or ridge",
	} {
		_, err := ParseManifest("m.yaml", []byte(strings.Replace(adv, "scoring: {selection: held-out}", sc, 1)))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", sc, err, want)
		}
	}
}

// TestCommitmentAtImport: commit benchmarks are resolved and checked
// against the registry when a benchmark is added.
func TestCommitmentAtImport(t *testing.T) {
	ctx := context.Background()
	reg := NewRegistry(objstore.NewMemory())
	pub := t.TempDir()
	writeValid(t, pub)
	if _, err := reg.Add(ctx, filepath.Join(pub, "manifest.yaml"), AddOptions{}); err != nil {
		t.Fatal(err)
	}
	add := func(id, scoring string, edits ...string) (AddResult, error) {
		dir := t.TempDir()
		writeValid(t, dir)
		editManifest(t, dir, "id: test.valid", "id: "+id)
		editManifest(t, dir, "scoring: {selection: held-out}", scoring)
		for i := 0; i+1 < len(edits); i += 2 {
			editManifest(t, dir, edits[i], edits[i+1])
		}
		return reg.Add(ctx, filepath.Join(dir, "manifest.yaml"), AddOptions{})
	}
	// The default with no commit benchmark known for the region.
	_, err := add("test.default", "")
	if err == nil || !strings.Contains(err.Error(), "it has 4 stimuli (under 50") || !strings.Contains(err.Error(), "scoring.commit_on") || !strings.Contains(err.Error(), "scoring.selection held-out") {
		t.Errorf("default commitment without commit benchmarks: %v", err)
	}
	res, err := add("test.commit", "scoring: {commit_on: [test.valid]}")
	if err != nil {
		t.Fatal(err)
	}
	if s := res.Summary; s.SelectionMode != SelectionCommit || s.CommitRegion != "none" || s.CommitOn != "test.valid" {
		t.Errorf("summary %q %q %q", s.SelectionMode, s.CommitRegion, s.CommitOn)
	}
	// A private benchmark may commit instead of naming a partner.
	if _, err := add("test.private", "scoring: {selection: commit, commit_on: [test.valid]}", "parent: test", "parent: test\nprivate: true"); err != nil {
		t.Errorf("private committed benchmark: %v", err)
	}
	for _, c := range []struct{ id, scoring, want string }{
		{"test.missing", "scoring: {commit_on: [nowhere.IT]}", "commit benchmark \"nowhere.IT\" (region none) is not in the registry; add it first"},
		{"test.chain", "scoring: {commit_on: [test.commit]}", "commit benchmark \"test.commit\" itself selects its layer elsewhere"},
		{"test.private2", "scoring: {commit_on: [test.private]}", "commit benchmark \"test.private\" is private"},
		{"test.region", "scoring: {region: V4, commit_on: [test.valid]}", "commit benchmark \"test.valid\" is of region \"none\", this benchmark of \"V4\""},
		{"test.v1", "scoring: {region: V1}", "no commit benchmark is known for region \"V1\""},
	} {
		if _, err := add(c.id, c.scoring); err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v, want %q", c.id, err, c.want)
		}
	}
}

// TestBuiltinVersionsUnchanged pins the built-in benchmarks' versions to
// those of branch i16 (before the conventions were read from manifests):
// scores stored under them stay valid.
func TestBuiltinVersionsUnchanged(t *testing.T) {
	_, _, results := importedBuiltins(t)
	want := map[string]string{
		"algonauts2019-92.EVC":       "8be524e8d0a227ab",
		"algonauts2019-92.IT":        "a62e4858663f0db3",
		"cowley2023.V4.public":       "3221b8c057b1d9f8",
		"kriegeskorte2008.behaviour": "b81a11d956bc9a66",
		"kriegeskorte2008.hIT":       "d20d8e60b0d9161c",
		"kriegeskorte2008.mIT":       "ecd07371ee2bbd6a",
		"algonauts2019-78.EVC":       "48f0dce085d6ed29",
		"algonauts2019-78.IT":        "717bf175700414d9",
		"cowley2023.V4":              "31f2d1b428ad64e9",
	}
	if len(results) != len(want) {
		t.Errorf("%d built-ins imported, want %d", len(results), len(want))
	}
	for _, r := range results {
		if v := want[r.Summary.ID]; r.Summary.Version != v {
			t.Errorf("%s: version %s, want %s", r.Summary.ID, r.Summary.Version, v)
		}
		if r.Summary.Transform != "ratio" || r.Summary.Features != "as-is" || r.Summary.Degrees != 0 || r.Summary.Form != "" {
			t.Errorf("%s: conventions %q %q %v %q, want the defaults", r.Summary.ID, r.Summary.Transform, r.Summary.Features, r.Summary.Degrees, r.Summary.Form)
		}
	}
}

// TestManifestDocExamplesParse parses every complete manifest (a yaml
// block starting with id:) in MANIFEST.md, the recipe's included.
func TestManifestDocExamplesParse(t *testing.T) {
	doc, err := os.ReadFile("MANIFEST.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, part := range strings.Split(string(doc), "```yaml\n")[1:] {
		block, _, _ := strings.Cut(part, "```")
		if !strings.HasPrefix(block, "id:") {
			continue
		}
		n++
		if _, err := ParseManifest(fmt.Sprintf("MANIFEST.md block %d", n), []byte(block)); err != nil {
			t.Errorf("%v\n%s", err, block)
		}
	}
	if n < 2 {
		t.Errorf("%d complete manifests in MANIFEST.md, want the reference and the recipe", n)
	}
}
