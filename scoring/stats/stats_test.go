package stats

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cortexbench/cortexbench/storage/npy"
)

// TestAgainstNumpy: numpy.percentile (linear), numpy.mean and
// scipy.stats.sem, numpy 1.24.2 / scipy 1.10.1, from gen_reference.py.
func TestAgainstNumpy(t *testing.T) {
	a, err := npy.ReadFile(filepath.Join("..", "testdata", "percentile_input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	x := a.Float64()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		P map[string]float64 `json:"percentile"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	s := slices.Clone(x)
	slices.Sort(s)
	for name, got := range map[string]float64{
		"p2.5": Percentile(s, 2.5), "p97.5": Percentile(s, 97.5), "p50": Percentile(s, 50),
		"sem": StdErr(x), "mean": Mean(x),
	} {
		if math.Abs(got-ref.P[name]) > 1e-12 {
			t.Errorf("%s: %v, numpy %v", name, got, ref.P[name])
		}
	}
}

func TestBootstrapSeeded(t *testing.T) {
	score := func(idx []int) (float64, error) {
		var s float64
		for _, i := range idx {
			s += float64(i)
		}
		return s / float64(len(idx)), nil
	}
	a, err := BootstrapStimuli(50, 500, 9, score)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := BootstrapStimuli(50, 500, 9, score)
	c, _ := BootstrapStimuli(50, 500, 10, score)
	if a.Lower != b.Lower || a.Upper != b.Upper {
		t.Error("same seed, different interval")
	}
	if a.Lower == c.Lower && a.Upper == c.Upper {
		t.Error("different seeds, same interval")
	}
	// The mean of 0..49 is 24.5 with standard error ≈ 14.43/√50 ≈ 2.04, so
	// the 95% interval should be about 24.5 ± 4 (loose bounds: it is random).
	if !(a.Lower < 24.5 && a.Upper > 24.5 && a.Upper-a.Lower > 5 && a.Upper-a.Lower < 11) {
		t.Errorf("implausible interval %+v", a)
	}
	if a.Level != 0.95 || len(a.Estimates) != 500 {
		t.Errorf("level %v, %d estimates", a.Level, len(a.Estimates))
	}
}

func TestBootstrapErrors(t *testing.T) {
	fail := func([]int) (float64, error) { return 0, errors.New("boom") }
	if _, err := BootstrapSubjects(5, 10, 1, fail); !errors.Is(err, ErrNoEstimate) {
		t.Errorf("all failed: %v", err)
	}
	if _, err := BootstrapSubjects(1, 10, 1, fail); !errors.Is(err, ErrTooFew) {
		t.Errorf("one subject: %v", err)
	}
	if _, err := BootstrapStimuli(10, 0, 1, fail); !errors.Is(err, ErrResamples) {
		t.Errorf("zero resamples: %v", err)
	}
	half := 0
	some := func([]int) (float64, error) {
		half++
		if half%2 == 0 {
			return math.NaN(), nil
		}
		return 1, nil
	}
	ci, err := BootstrapSubjects(4, 10, 1, some)
	if err != nil || ci.Failed != 5 || len(ci.Estimates) != 5 {
		t.Errorf("partial failures: %+v %v", ci, err)
	}
}

func TestResampleUpper(t *testing.T) {
	// 3×3 RDM with distinct off-diagonal entries.
	full := []float64{0, 1, 2, 1, 0, 3, 2, 3, 0}
	got := ResampleUpper(3, full, []int{2, 0, 2, 1})
	// Pairs (2,0) (2,2)x (2,1) (0,2) (0,1) (2,1): self-pair dropped.
	want := []float64{2, 3, 2, 1, 3}
	if !slices.Equal(got, want) {
		t.Errorf("ResampleUpper = %v, want %v", got, want)
	}
}
