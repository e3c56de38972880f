package httpapi

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/lbtest"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
)

// profileSource serves one model (with a paper, description, licence and
// BibTeX, and a formula for a name) on a public and a private benchmark,
// and a second model with no score on the public one.
func profileSource() (*leaderboard.MemSource, leaderboard.ModelInfo) {
	m := leaderboard.ModelInfo{Hash: lbtest.Hash("m"), Name: "=HYPERLINK(\"x\")", Family: "resnet", File: lbtest.Hash("file"),
		Preprocessing: models.ImageNetNCHW.String(), Paper: "https://arxiv.org/abs/1512.03385", Description: "A tiny CNN.",
		License: "MIT", BibTeX: "@article{he2016, title={Deep Residual Learning}, author={He, Kaiming}, year={2016}}"}
	other := leaderboard.ModelInfo{Hash: lbtest.Hash("other"), Name: "other", Family: "resnet"}
	bs := []leaderboard.BenchmarkInfo{
		{ID: "pub.IT", Version: "v1", Region: "IT", Parent: "IT", Ceiling: 0.5},
		{ID: "priv.IT", Version: "v1", Region: "IT", Parent: "IT", Ceiling: 0.5, Private: true},
	}
	layers := []scoring.LayerScore{
		{Layer: "L000.Conv", Depth: 0, Raw: 0.1, Ceiled: 0.2, SE: 0.01},
		{Layer: "L003.Relu", Depth: 0.5, Raw: 0.30000000000000004, Ceiled: 0.6000000000000001, SE: 0}, // no SE stored
		{Layer: "-L007.Gemm", Depth: 1, Raw: 0.2, Ceiled: 0.4, SE: 0.02},
	}
	ss := []scoring.Score{
		{ModelHash: m.Hash, ModelName: m.Name, BenchmarkID: "pub.IT", BenchmarkVersion: "v1", ScorerVersion: scoring.ScorerVersion,
			Raw: 0.28, Ceiling: 0.5, Ceiled: 0.56, SE: 0.03, CILow: 0.22, CIHigh: 0.34, Layer: "L003.Relu", Selection: "held-out splits", Layers: layers},
		{ModelHash: m.Hash, ModelName: m.Name, BenchmarkID: "priv.IT", BenchmarkVersion: "v1", ScorerVersion: scoring.ScorerVersion,
			Raw: 0.25, Ceiling: 0.5, Ceiled: 0.5, Layer: "L003.Relu", Layers: layers},
		{ModelHash: other.Hash, ModelName: other.Name, BenchmarkID: "priv.IT", BenchmarkVersion: "v1", ScorerVersion: scoring.ScorerVersion,
			Raw: 0.25, Ceiling: 0.5, Ceiled: 0.5, Layer: "L003.Relu", Layers: layers},
	}
	return leaderboard.NewMemSource([]leaderboard.ModelInfo{m, other}, bs, ss), m
}

// TestProfileDownloads (issue 17, finding 8): a model's profile on a
// benchmark is served as JSON (every digit, se null where none is stored)
// and as formula-safe CSV; private benchmarks' profiles are refused, a
// missing score is a 404 that says so; the model detail carries the
// paper, description, licence and BibTeX.
func TestProfileDownloads(t *testing.T) {
	src, m := profileSource()
	srv, err := NewServer(Config{}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	base := "/api/v1/models/" + m.Hash + "/benchmarks/"

	res, body := get(t, h, base+"pub.IT/profile.json")
	if res.StatusCode != 200 {
		t.Fatalf("profile.json: %d %s", res.StatusCode, body)
	}
	var p struct {
		ModelHash string   `json:"model_hash"`
		Raw       *float64 `json:"raw"`
		Ceiling   *float64 `json:"ceiling"`
		Ceiled    *float64 `json:"ceiled"`
		Layer     string   `json:"layer"`
		Formula   string   `json:"formula"`
		SEOf      string   `json:"se_of"`
		Layers    []struct {
			Layer  string
			Index  int
			Depth  float64
			Raw    *float64
			Ceiled *float64
			SE     *float64
		}
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if p.ModelHash != m.Hash || *p.Raw != 0.28 || *p.Ceiling != 0.5 || *p.Ceiled != 0.56 || p.Layer != "L003.Relu" || p.SEOf != "raw" || len(p.Layers) != 3 {
		t.Fatalf("profile %+v", p)
	}
	if l := p.Layers[1]; l.Layer != "L003.Relu" || l.Index != 1 || *l.Raw != 0.30000000000000004 || *l.Ceiled != 0.6000000000000001 || l.SE != nil {
		t.Errorf("layer 1 %+v: want every digit of raw and ceiled and se null (none stored)", l)
	}
	if l := p.Layers[0]; l.SE == nil || *l.SE != 0.01 {
		t.Errorf("layer 0 se %v, want 0.01", l.SE)
	}

	res, body = get(t, h, base+"pub.IT/profile.csv")
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") || !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("profile.csv: %d %q %q", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"))
	}
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || strings.Join(recs[0], ",") != "model_hash,model_name,benchmark_id,benchmark_version,index,layer,name,depth,raw,ceiled,se,chosen,score_raw,score_ceiling,score_ceiled" {
		t.Fatalf("profile.csv: %q", recs)
	}
	if r := recs[2]; r[5] != "L003.Relu" || r[8] != "0.30000000000000004" || r[10] != "" || r[11] != "true" || r[12] != "0.28" {
		t.Errorf("chosen layer's row %q", r)
	}
	if r := recs[3]; r[5] != "'-L007.Gemm" || r[11] != "false" || r[1] != `'=HYPERLINK("x")` {
		t.Errorf("last row %q: string cells must be neutralised", r)
	}

	for _, c := range []struct {
		path string
		code int
		says string
	}{
		{base + "priv.IT/profile.json", 403, "private"},
		{base + "priv.IT/profile.csv", 403, "private"},
		{"/api/v1/models/" + lbtest.Hash("other") + "/benchmarks/pub.IT/profile.json", 404, "has no score on pub.IT"},
		{base + "nope.IT/profile.csv", 404, "no benchmark"},
		{"/api/v1/models/abc/benchmarks/pub.IT/profile.json", 400, "64 lowercase hex"},
	} {
		res, body := get(t, h, c.path)
		var e errorDoc
		if json.Unmarshal(body, &e); res.StatusCode != c.code || !strings.Contains(e.Error.Message, c.says) {
			t.Errorf("%s: %d %s, want %d saying %q", c.path, res.StatusCode, body, c.code, c.says)
		}
	}

	_, body = get(t, h, "/api/v1/models/"+m.Hash)
	var d struct{ Paper, Description, License, BibTeX, Preprocessing string }
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	if d.Paper != m.Paper || d.Description != m.Description || d.License != m.License || d.BibTeX != m.BibTeX || d.Preprocessing != m.Preprocessing {
		t.Errorf("model detail %+v, want the model's paper, description, licence, BibTeX and spec", d)
	}
}

// TestPresets: the upload form's presets are the builtin specs with
// their canonical text, sorted by name.
func TestPresets(t *testing.T) {
	src, _ := profileSource()
	srv, err := NewServer(Config{}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, body := get(t, srv.Handler(), "/api/v1/preprocessing/presets")
	var out Presets
	if err := json.Unmarshal(body, &out); res.StatusCode != 200 || err != nil {
		t.Fatalf("%d %s %v", res.StatusCode, body, err)
	}
	if len(out.Presets) != len(models.Builtins) || !strings.Contains(out.Grammar, "key=value") {
		t.Fatalf("presets %+v", out)
	}
	for i, p := range out.Presets {
		if i > 0 && out.Presets[i-1].Name >= p.Name {
			t.Errorf("presets not sorted: %q before %q", out.Presets[i-1].Name, p.Name)
		}
		want, ok := models.Builtins[p.Name]
		if !ok || p.Spec != want.String() {
			t.Errorf("preset %q = %q, want %q", p.Name, p.Spec, want.String())
		}
		if s, err := models.ParseSpec(p.Spec); err != nil || s.String() != p.Spec {
			t.Errorf("preset %q's text %q does not parse back: %v", p.Name, p.Spec, err)
		}
	}
}
