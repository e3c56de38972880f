package jobscorer_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/ort"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/jobscorer"
	"github.com/cortexbench/cortexbench/submissions/submissionstest"
)

func runtime(t *testing.T) *ort.Runtime {
	t.Helper()
	cfg := ort.DefaultConfig()
	cfg.LibraryPath = os.Getenv("CORTEXBENCH_ONNXRUNTIME_LIB")
	if cfg.LibraryPath == "" {
		cfg.LibraryPath = filepath.Join("..", "..", ort.DefaultLibraryPath)
	}
	rt, err := ort.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// A job scores its own (file, spec), which must be its entry's; a job
// queued before jobs carried them takes both from the entry's checked
// metadata; a legacy entry (keyed by the file's sha256) keeps its id.
func TestJobModel(t *testing.T) {
	ctx := t.Context()
	store := &models.MemStore{}
	reg := &models.Registry{Store: store}
	file := submissionstest.TinyCNN(3)
	sum := sha256.Sum256(file)
	fileHash := hex.EncodeToString(sum[:])
	spec, err := models.ParseSpec(submissionstest.Spec)
	if err != nil {
		t.Fatal(err)
	}
	entry, _, err := reg.Add(ctx, models.Metadata{File: fileHash, Name: "tiny", Spec: spec}, bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	s := &jobscorer.Scorer{Models: reg, Runtime: runtime(t)}

	other, _ := models.ParseSpec("size=8,crop=1,order=BGR,layout=NCHW")
	_, err = s.ModelForTest(ctx, submissions.JobSpec{SubmissionID: "s", ModelHash: entry.ID, FileHash: fileHash, Spec: other.String(), BenchmarkID: "b"})
	if err == nil || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), other.String()) {
		t.Fatalf("a job whose spec is not its entry's: %v", err)
	}

	m, err := s.ModelForTest(ctx, submissions.JobSpec{SubmissionID: "s", ModelHash: entry.ID, FileHash: fileHash, Spec: spec.String(), BenchmarkID: "b"})
	if err != nil || m.Hash() != entry.ID || m.FileHash() != fileHash || m.Info().Spec.String() != spec.String() {
		t.Fatalf("job model: %v", err)
	}
	s2 := &jobscorer.Scorer{Models: reg, Runtime: s.Runtime}
	m, err = s2.ModelForTest(ctx, submissions.JobSpec{SubmissionID: "s", ModelHash: entry.ID, BenchmarkID: "b"}) // an old job
	if err != nil || m.Hash() != entry.ID || m.Info().Spec.String() != spec.String() {
		t.Fatalf("old job: %v", err)
	}

	// A legacy entry: metadata without File, its id the file's sha256.
	if err := store.Put(ctx, models.MetadataKey(fileHash), strings.NewReader(`{"ID":"`+fileHash+`","Name":"old","Spec":`+specJSON(t, spec)+`}`)); err != nil {
		t.Fatal(err)
	}
	m, err = s2.ModelForTest(ctx, submissions.JobSpec{SubmissionID: "s", ModelHash: fileHash, BenchmarkID: "b"})
	if err != nil || m.Hash() != fileHash || m.FileHash() != fileHash {
		t.Fatalf("legacy entry: %v", err)
	}

	// A tampered file is refused, naming the object.
	if err := store.Put(ctx, models.FileKey(fileHash), bytes.NewReader(append(file[:len(file):len(file)], 0))); err != nil {
		t.Fatal(err)
	}
	s3 := &jobscorer.Scorer{Models: reg, Runtime: s.Runtime}
	if _, err := s3.ModelForTest(ctx, submissions.JobSpec{SubmissionID: "s", ModelHash: entry.ID, BenchmarkID: "b"}); err == nil ||
		!strings.Contains(err.Error(), models.FileKey(fileHash)) {
		t.Fatalf("tampered file: %v", err)
	}
}

func specJSON(t *testing.T, s models.Spec) string {
	t.Helper()
	var b bytes.Buffer
	if err := jsonEncode(&b, s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(b.String())
}

func jsonEncode(w *bytes.Buffer, v any) error { return json.NewEncoder(w).Encode(v) }

// Issue 16: a declared entry's job loads the model with the entry's
// commitments, so its hash is the entry id and the runner scores the
// declared layer (runner.DeclaredCommitments).
func TestJobModelCommitments(t *testing.T) {
	ctx := t.Context()
	reg := &models.Registry{Store: &models.MemStore{}}
	file := submissionstest.TinyCNN(4)
	sum := sha256.Sum256(file)
	fileHash := hex.EncodeToString(sum[:])
	spec, err := models.ParseSpec(submissionstest.Spec)
	if err != nil {
		t.Fatal(err)
	}
	s := &jobscorer.Scorer{Models: reg, Runtime: runtime(t)}
	// The id of a layer that depends on the image, as ONNX Runtime sees it.
	plain, _, err := reg.Add(ctx, models.Metadata{File: fileHash, Name: "tiny", Spec: spec}, bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := s.ModelForTest(ctx, submissions.JobSpec{SubmissionID: "s", ModelHash: plain.ID, FileHash: fileHash, Spec: spec.String(), BenchmarkID: "b"})
	if err != nil {
		t.Fatal(err)
	}
	var id string
	for _, l := range pm.Layers() {
		if l.PerStimulus {
			id = l.ID
		}
	}
	c := map[string]string{"IT": id}
	entry, _, err := reg.Add(ctx, models.Metadata{File: fileHash, Name: "tiny-it", Spec: spec, Commitments: c}, bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.ModelForTest(ctx, submissions.JobSpec{SubmissionID: "s", ModelHash: entry.ID, FileHash: fileHash, Spec: spec.String(), BenchmarkID: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Hash() != entry.ID || entry.ID == plain.ID || models.CommitmentsString(m.Committed()) != "IT="+id {
		t.Fatalf("declared entry's job model: %v (hash %s, entry %s, commitments %v)", err, m.Hash(), entry.ID, m.Committed())
	}
}
