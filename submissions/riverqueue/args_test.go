package riverqueue

import (
	"encoding/json"
	"testing"

	"github.com/cortexbench/cortexbench/submissions"
)

// A job's args carry its file and spec; a job queued before they did
// (no file_hash, no spec) still decodes, with both empty (the scorer then
// reads them from the model entry).
func TestScoreArgsJSON(t *testing.T) {
	job := submissions.JobSpec{SubmissionID: "sub_1", ModelHash: "m", FileHash: "f", Spec: "size=8", BenchmarkID: "b", BenchmarkVersion: "v"}
	data, err := json.Marshal(scoreArgs{SubmissionID: job.SubmissionID, ModelHash: job.ModelHash, FileHash: job.FileHash, Spec: job.Spec,
		BenchmarkID: job.BenchmarkID, BenchmarkVersion: job.BenchmarkVersion})
	if err != nil {
		t.Fatal(err)
	}
	var a scoreArgs
	if err := json.Unmarshal(data, &a); err != nil || a.spec() != job {
		t.Fatalf("round trip %s: %+v %v", data, a.spec(), err)
	}
	old := `{"submission_id":"sub_0","model_hash":"m0","benchmark_id":"b","benchmark_version":"v"}`
	var o scoreArgs
	if err := json.Unmarshal([]byte(old), &o); err != nil {
		t.Fatal(err)
	}
	if want := (submissions.JobSpec{SubmissionID: "sub_0", ModelHash: "m0", BenchmarkID: "b", BenchmarkVersion: "v"}); o.spec() != want {
		t.Errorf("old job %+v, want %+v", o.spec(), want)
	}
}
