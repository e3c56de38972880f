package httpapi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxpb"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/submissionstest"
	"github.com/cortexbench/cortexbench/submissions/wire"
)

// submitPreprocessing submits file with the preprocessing field set to spec ("":
// the field is absent).
func (e *env) submitPreprocessing(t *testing.T, file []byte, spec string) (int, wire.ErrorBody, wire.Accepted) {
	t.Helper()
	fields := map[string]string{wire.FieldName: "m"}
	if spec != "" {
		fields[wire.FieldPreprocessing] = spec
	}
	ct, body := form(t, fields, file)
	var acc wire.Accepted
	st, eb := e.do(t, "ada", http.MethodPost, "/api/v1/submissions", ct, body, &acc)
	return st, eb, acc
}

// Issue 17, finding 5: the API's default is the CLI's. A 3-channel NCHW
// model submitted without a spec is scored with "imagenet" at its input
// size, which the answer's warnings name and the entry stores; a grey model
// without a spec is refused with a spec that fits; a syntax error is said
// as such; 0–255 mean/std is accepted with a warning offering range=255.
func TestSubmitPreprocessingDefaultAndWarnings(t *testing.T) {
	e := newEnv(t, submissions.Config{})
	file := submissionstest.TinyCNN(21)
	st, eb, acc := e.submitPreprocessing(t, file, "")
	if st != http.StatusAccepted {
		t.Fatalf("no spec: %d %+v", st, eb)
	}
	if len(acc.Warnings) != 1 || acc.Warnings[0] != "preprocessing: imagenet,size=8 (default; pass a preprocessing spec to change)" {
		t.Errorf("warnings %q: want the default named", acc.Warnings)
	}
	want, err := models.ParseSpec("imagenet,size=8")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(file)
	if acc.ModelHash != models.EntryID(hex.EncodeToString(sum[:]), want) {
		t.Errorf("entry %s is not (file, imagenet,size=8)", acc.ModelHash)
	}
	md, err := (&models.Registry{Store: e.bucket}).Get(t.Context(), acc.ModelHash)
	if err != nil || md.Spec.String() != want.String() {
		t.Errorf("stored spec %q, %v; want %q", md.Spec, err, want)
	}

	// With a spec that is fine: no warnings, and an empty array, not null.
	st, eb, acc = e.submitPreprocessing(t, submissionstest.TinyCNN(22), submissionstest.Spec)
	if st != http.StatusAccepted || acc.Warnings == nil || len(acc.Warnings) != 0 {
		t.Errorf("good spec: %d %+v warnings %#v", st, eb, acc.Warnings)
	}

	st, eb, acc = e.submitPreprocessing(t, submissionstest.TinyCNN(23), "size=8,crop=1,mean=123.675:116.28:103.53,std=58.395:57.12:57.375,layout=NCHW")
	if st != http.StatusAccepted || len(acc.Warnings) != 1 || !strings.Contains(acc.Warnings[0], "range=255") ||
		!strings.Contains(acc.Warnings[0], "mean=0.485:0.456:0.406,std=0.229:0.224:0.225") {
		t.Errorf("0–255 mean/std: %d %+v warnings %q", st, eb, acc.Warnings)
	}

	before := e.stored(t)
	b := onnxmodel.NewBuilder(13).Input("image", onnxpb.TensorProto_FLOAT, -1, 1, 28, 28).Output("out")
	b.Node("Relu", []string{"image"}, []string{"out"})
	st, eb, _ = e.submitPreprocessing(t, b.Bytes(), "")
	if st != http.StatusBadRequest || len(eb.Problems) != 1 || eb.Problems[0].Field != "preprocessing" ||
		!strings.Contains(eb.Problems[0].Message, "size=28,crop=1,mean=0.5,std=0.5,channels=1,layout=NCHW") ||
		strings.Contains(eb.Problems[0].Message, "want 1 or 1") {
		t.Errorf("grey model without a spec: %d %+v", st, eb)
	}
	st, eb, _ = e.submitPreprocessing(t, submissionstest.TinyCNN(24), "imagenet,size=8,maen=0.5")
	if st != http.StatusBadRequest || len(eb.Problems) != 1 || eb.Problems[0].Kind != "preprocessing spec" ||
		!strings.Contains(eb.Problems[0].Message, `unknown key "maen"`) || strings.Contains(eb.Problems[0].Message, "does not match") {
		t.Errorf("syntax error: %d %+v", st, eb)
	}
	if after := e.stored(t); after != before {
		t.Errorf("refused submissions stored something: %q → %q", before, after)
	}
}
