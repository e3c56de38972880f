package httpapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxpb"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/submissionstest"
	"github.com/cortexbench/cortexbench/submissions/wire"
)

// submitSpec uploads file with the given name and preprocessing spec.
func (e *env) submitSpec(t *testing.T, user, name, spec string, file []byte) (int, wire.ErrorBody, wire.Accepted) {
	t.Helper()
	ct, body := form(t, map[string]string{wire.FieldName: name, wire.FieldPreprocessing: spec}, file)
	var acc wire.Accepted
	st, eb := e.do(t, user, http.MethodPost, "/api/v1/submissions", ct, body, &acc)
	return st, eb, acc
}

// entrySnapshot is everything stored about one model entry: its metadata
// object (bytes), its registry row, its scores and its owner's submissions.
func (e *env) entrySnapshot(t *testing.T, id, owner string) string {
	t.Helper()
	ctx := t.Context()
	rc, err := e.bucket.Get(ctx, models.MetadataKey(id))
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := io.ReadAll(rc)
	rc.Close()
	row, err := e.reg.GetModel(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	scores, err := e.reg.ListScores(ctx, registry.ScoreFilter{ModelHash: id})
	if err != nil {
		t.Fatal(err)
	}
	subs, err := e.reg.ListSubmissions(ctx, owner, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal([]any{string(meta), row, scores, subs})
	return string(b)
}

// Issue 14, finding 2 (and issue 17, findings 1 and 3), replayed against
// the API on loopback: bob resubmits ada's model file with another
// preprocessing spec, then with ada's own spec. A model entry is (file,
// spec): bob's other spec is a new entry of bob's; ada's entry — metadata
// object, registry row, scores, submissions — stays byte for byte; and a
// resubmission of ada's exact entry is answered with the existing entry,
// queues nothing and changes nothing.
func TestResubmissionNeverRewritesAnotherUsersEntry(t *testing.T) {
	e := newEnv(t, submissions.Config{})
	ctx := t.Context()
	file := submissionstest.TinyCNN(1)
	sum := sha256.Sum256(file)
	fileHash := hex.EncodeToString(sum[:])

	st, eb, ada := e.submitSpec(t, "ada", "tiny", submissionstest.Spec, file)
	if st != http.StatusAccepted {
		t.Fatalf("ada's submission: %d %+v", st, eb)
	}
	adaSpec, _ := models.ParseSpec(submissionstest.Spec)
	if ada.ModelHash != models.EntryID(fileHash, adaSpec) {
		t.Fatalf("ada's model id %s is not the entry id of (file, spec)", ada.ModelHash)
	}
	// ada's job has been scored (as a worker would).
	score := scoring.Score{ModelHash: ada.ModelHash, ModelName: "tiny", BenchmarkID: "b1", BenchmarkVersion: "b1-v1",
		ScorerVersion: scoring.ScorerVersion, Raw: 0.25, Ceiling: 0.5, Ceiled: 0.5, Layer: "L001.Relu", CreatedAt: time.Now().UTC()}
	if _, _, err := e.reg.PutScore(ctx, score); err != nil {
		t.Fatal(err)
	}
	before := e.entrySnapshot(t, ada.ModelHash, "ada")
	jobsBefore := len(e.queue.jobs)

	// bob: the same file, another spec (BGR, another scale: what moved
	// MobileNetV1's behaviour score from 0.498 to 0.284).
	bobSpecText := "size=8,crop=1,offset=0,scale=0.0001,order=BGR,layout=NCHW,pixel=float"
	st, eb, bob := e.submitSpec(t, "bob", "tiny-bgr", bobSpecText, file)
	if st != http.StatusAccepted {
		t.Fatalf("bob's submission with another spec: %d %+v", st, eb)
	}
	bobSpec, _ := models.ParseSpec(bobSpecText)
	if bob.ModelHash == ada.ModelHash || bob.ModelHash != models.EntryID(fileHash, bobSpec) {
		t.Fatalf("bob's entry %s (ada's %s): want a new entry of the same file", bob.ModelHash, ada.ModelHash)
	}
	if len(e.queue.jobs) != jobsBefore+1 {
		t.Fatalf("%d jobs queued for bob's entry, want 1", len(e.queue.jobs)-jobsBefore)
	}
	job := e.queue.jobs[len(e.queue.jobs)-1]
	if job.ModelHash != bob.ModelHash || job.FileHash != fileHash || job.Spec != bobSpec.String() {
		t.Errorf("bob's job %+v does not carry its own file and spec", job)
	}
	if after := e.entrySnapshot(t, ada.ModelHash, "ada"); after != before {
		t.Fatalf("ada's entry changed by bob's submission:\nbefore %s\nafter  %s", before, after)
	}
	if m, err := e.reg.GetModel(ctx, bob.ModelHash); err != nil || m.Owner != "bob" || m.Name != "tiny-bgr" || m.File != fileHash {
		t.Errorf("bob's entry %+v %v", m, err)
	}
	if md, err := (&models.Registry{Store: e.bucket}).Get(ctx, bob.ModelHash); err != nil || md.Spec.String() != bobSpec.String() {
		t.Errorf("bob's entry metadata %+v %v", md, err)
	}

	// bob: ada's exact entry. Every benchmark is scored or queued: the
	// answer names the existing entry (not its owner); nothing changes.
	jobsBefore = len(e.queue.jobs)
	bobSubs, _ := e.reg.ListSubmissions(ctx, "bob", 0)
	st, eb, _ = e.submitSpec(t, "bob", "mine-now", "size=8,crop=1,mean=0.5,std=0.25,layout=NCHW", file) // ada's spec, written another way
	if st != http.StatusConflict || eb.Code != "conflict" || !strings.Contains(eb.Message, `"tiny"`) ||
		!strings.Contains(eb.Message, ada.ModelHash) || strings.Contains(eb.Message, "ada") || !strings.Contains(eb.Message, "1 benchmark(s) scored") {
		t.Fatalf("bob resubmitting ada's entry: %d %+v, want 409 naming the entry %q (%s) without its owner", st, eb, "tiny", ada.ModelHash)
	}
	if len(e.queue.jobs) != jobsBefore {
		t.Errorf("%d jobs queued for a duplicate", len(e.queue.jobs)-jobsBefore)
	}
	if subs, _ := e.reg.ListSubmissions(ctx, "bob", 0); len(subs) != len(bobSubs) {
		t.Errorf("a duplicate was recorded as a submission")
	}
	if after := e.entrySnapshot(t, ada.ModelHash, "ada"); after != before {
		t.Fatalf("ada's entry changed by bob's duplicate:\nbefore %s\nafter  %s", before, after)
	}

	// A new benchmark: a resubmission of ada's entry queues only it, under
	// the entry's name; ada's entry is still untouched.
	if err := e.reg.PutBenchmark(ctx, registry.Benchmark{ID: "b2", Version: "b2-v1"}); err != nil {
		t.Fatal(err)
	}
	st, eb, again := e.submitSpec(t, "bob", "mine-now", submissionstest.Spec, file)
	if st != http.StatusAccepted || again.ModelHash != ada.ModelHash || again.Status.Benchmarks != 1 {
		t.Fatalf("resubmission after a new benchmark: %d %+v %+v", st, eb, again)
	}
	if job := e.queue.jobs[len(e.queue.jobs)-1]; len(e.queue.jobs) != jobsBefore+1 || job.BenchmarkID != "b2" || job.ModelHash != ada.ModelHash {
		t.Errorf("queued %+v, want one job for b2", e.queue.jobs[jobsBefore:])
	}
	if sub, _ := e.reg.GetSubmission(ctx, again.ID); sub.ModelName != "tiny" {
		t.Errorf("the submission names the entry %q, want its registered name tiny", sub.ModelName)
	}
	if after := e.entrySnapshot(t, ada.ModelHash, "ada"); after != before {
		t.Fatalf("ada's entry changed by a resubmission:\nbefore %s\nafter  %s", before, after)
	}
	// The file is stored once.
	if data, err := (&models.Registry{Store: e.bucket}).File(ctx, fileHash); err != nil || !bytes.Equal(data, file) {
		t.Errorf("stored file: %v", err)
	}
}

// Issue 16: a submission may declare the model's layer per region (field
// commitments, text or JSON). The declared entry is another entry than the
// same file and spec without them (models.EntryIDFor), its metadata
// object carries the map by layer id; an unknown layer, a bad region name
// or too many regions are refused naming the problem, storing nothing.
func TestSubmitCommitments(t *testing.T) {
	e := newEnv(t, submissions.Config{})
	file := submissionstest.TinyCNN(2)
	sum := sha256.Sum256(file)
	fileHash := hex.EncodeToString(sum[:])
	spec, _ := models.ParseSpec(submissionstest.Spec)
	layers, err := onnxmodel.Layers(mustParse(t, file))
	if err != nil {
		t.Fatal(err)
	}
	var first models.Layer
	for _, l := range layers {
		if l.PerStimulus {
			first = l
			break
		}
	}
	submit := func(commit string) (int, wire.ErrorBody, wire.Accepted) {
		ct, body := form(t, map[string]string{wire.FieldName: "tiny", wire.FieldPreprocessing: submissionstest.Spec, wire.FieldCommitments: commit}, file)
		var acc wire.Accepted
		st, eb := e.do(t, "ada", http.MethodPost, "/api/v1/submissions", ct, body, &acc)
		return st, eb, acc
	}
	// By tensor name in JSON: resolved to the layer id.
	st, eb, acc := submit(`{"IT": "` + first.Tensor + `"}`)
	if st != http.StatusAccepted {
		t.Fatalf("declared submission: %d %+v", st, eb)
	}
	want := map[string]string{"IT": first.ID}
	if acc.ModelHash != models.EntryIDFor(fileHash, spec, want) || acc.ModelHash == models.EntryID(fileHash, spec) {
		t.Fatalf("entry %s, want EntryIDFor(file, spec, IT=%s)", acc.ModelHash, first.ID)
	}
	md, err := (&models.Registry{Store: e.bucket}).Get(t.Context(), acc.ModelHash)
	if err != nil || models.CommitmentsString(md.Commitments) != "IT="+first.ID {
		t.Fatalf("stored metadata %+v, %v", md, err)
	}
	// The same file and spec without commitments: another entry.
	st, eb, plain := submit("")
	if st != http.StatusAccepted || plain.ModelHash != models.EntryID(fileHash, spec) {
		t.Fatalf("plain submission: %d %+v %s", st, eb, plain.ModelHash)
	}
	// The Go client (cortexbench submit --commit) sends the same field.
	tok, ok := e.tokens["bob"]
	if !ok {
		tok = "bob"
	}
	c := wire.Client{BaseURL: e.srv.URL, Token: tok}
	// The declared entry exists with its job queued: a conflict naming it
	// (without the field it would name the plain entry).
	_, err = c.Submit(t.Context(), "tiny.onnx", bytes.NewReader(file), wire.SubmitForm{Name: "tiny", Preprocessing: submissionstest.Spec, Commitments: "IT=" + first.ID})
	if err == nil || !strings.Contains(err.Error(), acc.ModelHash) || !strings.Contains(err.Error(), "IT="+first.ID) {
		t.Fatalf("wire.Client with commitments: %v, want the conflict naming the declared entry %s", err, acc.ModelHash)
	}
	jobs := len(e.queue.jobs)
	many := make([]string, models.MaxCommitments+1)
	for i := range many {
		many[i] = fmt.Sprintf("R%02d=%s", i, first.ID)
	}
	for commit, says := range map[string]string{
		"IT=" + first.ID[:len(first.ID)-1] + "x": first.ID,
		"I T=" + first.ID:                        "must be 1 to 64",
		strings.Join(many, ","):                  "at most 16",
		`{"IT": 3}`:                              "not a JSON object",
	} {
		st, eb, _ := submit(commit)
		if st != http.StatusBadRequest && st != http.StatusUnprocessableEntity {
			t.Errorf("%q: status %d, want a refusal", commit, st)
			continue
		}
		found := false
		for _, p := range eb.Problems {
			if p.Field == "commitments" && strings.Contains(p.Message, says) {
				found = true
			}
		}
		if !found {
			t.Errorf("%q: problems %+v, want one on commitments saying %q", commit, eb.Problems, says)
		}
	}
	if len(e.queue.jobs) != jobs {
		t.Errorf("refused submissions queued %d jobs", len(e.queue.jobs)-jobs)
	}
}

func mustParse(t *testing.T, data []byte) *onnxpb.ModelProto {
	t.Helper()
	m, err := onnxmodel.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
