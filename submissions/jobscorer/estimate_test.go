package jobscorer_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/jobscorer"
	"github.com/cortexbench/cortexbench/submissions/submissionstest"
)

type oneBenchmark struct{ l *benchmarks.Loaded }

func (o oneBenchmark) Open(context.Context, string) (*benchmarks.Loaded, error) { return o.l, nil }

// Issue 17, finding 11: a finished job's duration is kept beside what the
// calibrated estimate predicted for it, so later estimates on that
// benchmark learn from it.
func TestFinishedJobRecorded(t *testing.T) {
	ctx := t.Context()
	reg := &models.Registry{Store: &models.MemStore{}}
	file := submissionstest.TinyCNN(3)
	sum := sha256.Sum256(file)
	spec, err := models.ParseSpec(submissionstest.Spec)
	if err != nil {
		t.Fatal(err)
	}
	entry, _, err := reg.Add(ctx, models.Metadata{File: hex.EncodeToString(sum[:]), Name: "tiny", Spec: spec}, bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	loaded := &benchmarks.Loaded{Benchmark: &benchmarks.Benchmark{ID: "lab.IT"}, RDMs: make([][]float64, 4)}
	s := &jobscorer.Scorer{Models: reg, Runtime: runtime(t), Bench: oneBenchmark{loaded}}
	m, err := s.ModelForTest(ctx, submissions.JobSpec{SubmissionID: "s", ModelHash: entry.ID, BenchmarkID: "lab.IT"})
	if err != nil {
		t.Fatal(err)
	}

	cals := submissions.OpenCalibrations(t.TempDir())
	s.RecordForTest(ctx, m, "lab.IT", 3*time.Second) // no calibration in this process: nothing kept
	if l, err := cals.Learned(); err != nil || len(l) != 0 {
		t.Fatalf("kept without a calibration: %v, %v", l, err)
	}
	cal := submissions.Calibration{ForwardFLOPS: 1e9, GemmFLOPS: 1e9, RankSeconds: 1e-7, DrawnRankSeconds: 4e-8, ModelSeconds: 0.1, MeasuredAt: time.Now()}
	submissions.UseCalibration(cals, &cal)
	t.Cleanup(func() { submissions.UseCalibration(nil, nil) })
	s.RecordForTest(ctx, m, "lab.IT", 3*time.Second)
	learned, err := cals.Learned()
	if err != nil {
		t.Fatal(err)
	}
	pred := submissions.CalibratedEstimate(&cal, jobscorer.EstimateInput(m), []submissions.BenchmarkCost{{ID: "lab.IT", Subjects: 4}}, 0, nil)[0].Seconds
	if f, ok := learned["lab.IT"]; !ok || f != 3/pred {
		t.Errorf("learned %v, want lab.IT: %v (3 s over the %.3f s predicted)", learned, 3/pred, pred)
	}
}
