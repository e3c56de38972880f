package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/submissionstest"
	"github.com/cortexbench/cortexbench/submissions/wire"
)

const heBibTeX = "@inproceedings{he2016deep,\n  title={Deep Residual Learning for Image Recognition},\n  author={He, Kaiming and Zhang, Xiangyu and Ren, Shaoqing and Sun, Jian},\n  booktitle={CVPR},\n  year={2016}\n}"

// TestModelAbout (issue 17, finding 8): the paper, description, licence
// and BibTeX are accepted with a submission and stored with the model;
// PATCH changes them (paper included, which it used to refuse); bad
// values are refused field by field, saying what to give, and change
// nothing already stored.
func TestModelAbout(t *testing.T) {
	e := newEnv(t, submissions.Config{})
	ct, body := form(t, map[string]string{wire.FieldName: "tiny", wire.FieldPreprocessing: submissionstest.Spec,
		wire.FieldPaper: "https://arxiv.org/abs/1512.03385", wire.FieldDescription: "A tiny CNN.\nRandomly initialised.",
		wire.FieldLicense: "MIT", wire.FieldBibTeX: heBibTeX}, submissionstest.TinyCNN(1))
	var acc wire.Accepted
	if st, eb := e.do(t, "ada", http.MethodPost, "/api/v1/submissions", ct, body, &acc); st != http.StatusAccepted {
		t.Fatalf("submit with metadata: %d %+v", st, eb)
	}
	m, err := e.reg.GetModel(t.Context(), acc.ModelHash)
	if err != nil {
		t.Fatal(err)
	}
	if m.Paper != "https://arxiv.org/abs/1512.03385" || m.Description != "A tiny CNN.\nRandomly initialised." || m.License != "MIT" || m.BibTeX != heBibTeX {
		t.Errorf("stored model %+v, want the submitted paper, description, licence and BibTeX", m)
	}

	path := "/api/v1/models/" + acc.ModelHash
	var got wire.Model
	if st, eb := e.do(t, "ada", http.MethodPatch, path, "application/json",
		strings.NewReader(`{"paper":"https://doi.org/10.1109/CVPR.2016.90","license":"Apache-2.0","name":"tiny-v2"}`), &got); st != http.StatusOK {
		t.Fatalf("PATCH paper: %d %+v", st, eb)
	}
	if got.Paper != "https://doi.org/10.1109/CVPR.2016.90" || got.License != "Apache-2.0" || got.Name != "tiny-v2" || got.BibTeX != heBibTeX {
		t.Errorf("PATCH answer %+v, want the new paper, licence and name and the BibTeX kept", got)
	}

	long := strings.Repeat("é", submissions.MaxDescriptionChars+1) // 2 bytes each: the limit counts characters
	for _, c := range []struct {
		body, field, says string
	}{
		{`{"paper":"http://arxiv.org/abs/1512.03385"}`, "paper", "https URL"},
		{`{"paper":"javascript:alert(1)"}`, "paper", "https URL"},
		{`{"description":"` + long + `"}`, "description", "2001 characters"},
		{`{"license":"` + strings.Repeat("x", 101) + `"}`, "license", "SPDX"},
		{`{"bibtex":"title = {no entry}"}`, "bibtex", "@type{key"},
		{`{"bibtex":"@article{a, title={open}"}`, "bibtex", "braces must balance"},
		{`{"bibtex":` + mustJSON(t, "@article{a,"+strings.Repeat("x", submissions.MaxBibTeXBytes)+"}") + `}`, "bibtex", "over the limit"},
	} {
		st, eb := e.do(t, "ada", http.MethodPatch, path, "application/json", strings.NewReader(c.body), nil)
		if st != http.StatusBadRequest || len(eb.Problems) != 1 || eb.Problems[0].Field != c.field || !strings.Contains(eb.Problems[0].Message, c.says) {
			t.Errorf("PATCH %.60s: %d %+v, want 400 with one problem on %s saying %q", c.body, st, eb, c.field, c.says)
		}
	}
	after, err := e.reg.GetModel(t.Context(), acc.ModelHash)
	if err != nil {
		t.Fatal(err)
	}
	if after.Paper != got.Paper || after.License != got.License || after.Description != m.Description || after.BibTeX != heBibTeX || after.Name != "tiny-v2" {
		t.Errorf("after refused changes the model is %+v, want it unchanged", after)
	}

	// The Go client (what the CLI uses) sends the same fields.
	cl := &wire.Client{BaseURL: e.srv.URL, Token: e.tokens["bob"]}
	acc2, err := cl.Submit(t.Context(), "tiny.onnx", bytes.NewReader(submissionstest.TinyCNN(2)), wire.SubmitForm{Name: "tiny2",
		Preprocessing: submissionstest.Spec, Paper: "https://example.org/p", Description: "two", License: "Apache-2.0", BibTeX: heBibTeX})
	if err != nil {
		t.Fatal(err)
	}
	if m2, err := e.reg.GetModel(t.Context(), acc2.ModelHash); err != nil || m2.Paper != "https://example.org/p" || m2.Description != "two" || m2.License != "Apache-2.0" || m2.BibTeX != heBibTeX {
		t.Errorf("submitted with the client: %+v, %v", m2, err)
	}

	// A submission with a bad paper is refused whole: nothing stored.
	e2 := newEnv(t, submissions.Config{})
	ct, body = form(t, map[string]string{wire.FieldName: "tiny", wire.FieldPreprocessing: submissionstest.Spec,
		wire.FieldPaper: "ftp://example.org/paper.pdf"}, submissionstest.TinyCNN(1))
	st, eb := e2.do(t, "ada", http.MethodPost, "/api/v1/submissions", ct, body, nil)
	if st != http.StatusBadRequest || len(eb.Problems) != 1 || eb.Problems[0].Field != "paper" {
		t.Errorf("submission with an ftp paper: %d %+v, want 400 with a problem on paper", st, eb)
	}
	if s := e2.stored(t); s != "" {
		t.Errorf("a refused submission stored %s", s)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
