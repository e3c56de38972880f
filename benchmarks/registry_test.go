package benchmarks

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/storage/npy"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

func tinyDir(t *testing.T) string {
	dir := t.TempDir()
	writeValid(t, dir)
	return dir
}

func TestAddVersions(t *testing.T) {
	ctx := context.Background()
	dir := tinyDir(t)
	manifest := filepath.Join(dir, "manifest.yaml")
	reg := NewRegistry(objstore.NewMemory())
	tick := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	reg.now = func() time.Time { tick = tick.Add(time.Second); return tick }

	first, err := reg.Add(ctx, manifest, AddOptions{})
	if err != nil || first.Status != StatusAdded {
		t.Fatalf("add: %v %v", first.Status, err)
	}
	s := first.Summary
	if s.Stimuli != 4 || s.Subjects != 3 || s.Files != 5 || !s.CeilingValid || s.Kind != KindRDM {
		t.Errorf("summary %+v", s)
	}
	if again, err := reg.Add(ctx, manifest, AddOptions{}); err != nil || again.Status != StatusUnchanged || again.Summary.Version != s.Version {
		t.Fatalf("re-add: %v %v", again.Status, err)
	}
	// A new title keeps the version.
	editManifest(t, dir, "title: Tiny test benchmark", "title: Tiny test benchmark, renamed")
	if up, err := reg.Add(ctx, manifest, AddOptions{}); err != nil || up.Status != StatusUpdated || up.Summary.Version != s.Version || up.Summary.Title != "Tiny test benchmark, renamed" {
		t.Fatalf("retitle: %+v %v", up, err)
	}
	// A new split seed is a new version, refused without NewVersion.
	editManifest(t, dir, "seed: 7", "seed: 8")
	_, err = reg.Add(ctx, manifest, AddOptions{})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("changed settings: err %v, want ErrExists", err)
	}
	nv, err := reg.Add(ctx, manifest, AddOptions{NewVersion: true})
	if err != nil || nv.Status != StatusNewVersion || nv.Summary.Version == s.Version {
		t.Fatalf("new version: %+v %v", nv, err)
	}
	cur, err := reg.Show(ctx, "test.valid")
	if err != nil || cur.Version != nv.Summary.Version {
		t.Fatalf("show current: %v %v, want %s", cur.Version, err, nv.Summary.Version)
	}
	old, err := reg.Show(ctx, "test.valid@"+s.Version)
	if err != nil || old.Version != s.Version {
		t.Fatalf("show old: %v %v", old.Version, err)
	}
	list, err := reg.List(ctx)
	if err != nil || len(list) != 1 || list[0].Version != nv.Summary.Version {
		t.Fatalf("list: %+v %v", list, err)
	}
	for _, ref := range []string{"nope", "test.valid@0000", "../x", "test.valid@../x"} {
		if _, err := reg.Show(ctx, ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("show %q: %v, want ErrNotFound", ref, err)
		}
	}
}

func TestOpenTiny(t *testing.T) {
	ctx := context.Background()
	dir := tinyDir(t)
	reg := NewRegistry(objstore.NewMemory())
	if _, err := reg.Add(ctx, filepath.Join(dir, "manifest.yaml"), AddOptions{}); err != nil {
		t.Fatal(err)
	}
	l, err := reg.Open(ctx, "test.valid")
	if err != nil {
		t.Fatal(err)
	}
	full := testRDMs(3, 4)
	if len(l.RDMs) != 3 {
		t.Fatalf("%d RDM vectors, want 3", len(l.RDMs))
	}
	for s, v := range l.RDMs {
		want := []float64{full[s*16+1], full[s*16+2], full[s*16+3], full[s*16+6], full[s*16+7], full[s*16+11]}
		if !reflect.DeepEqual(v, want) {
			t.Errorf("subject %d: upper triangle %v, want %v", s, v, want)
		}
	}
	st := l.Stimuli
	if st.Len() != 4 || st.Name(2) != "c.png" || st.Label(2) != "inanimate" || len(st.Labels()) != 4 {
		t.Errorf("stimuli: %d, %q, %q", st.Len(), st.Name(2), st.Label(2))
	}
	rc, err := st.Open(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	want, _ := os.ReadFile(filepath.Join(dir, "stimuli", "b.png"))
	if !bytes.Equal(got, want) {
		t.Error("stimulus 1 bytes differ from b.png")
	}
	img, err := st.Image(ctx, 3)
	if err != nil || img.Bounds().Dx() != 8 {
		t.Errorf("image 3: %v %v", img, err)
	}
	if l.Ceiling.Method != CeilingRSANili || !l.Ceiling.Valid || l.Benchmark.Metric.Comparison != "spearman" || l.Benchmark.Splits.Seed != 7 {
		t.Errorf("ceiling %+v metric %+v", l.Ceiling, l.Benchmark.Metric)
	}
}

// TestResponsesWithRepeats adds a response matrix with repeats from a zip
// of images with a folder prefix, ordered by an order file, and checks the
// split-half ceiling and the loaded session.
func TestResponsesWithRepeats(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const targets, stimuli, reps = 3, 6, 4
	var zbuf bytes.Buffer
	zw := newZip(&zbuf)
	names := []string{"s0.png", "s1.png", "s2.png", "s3.png", "s4.png", "s5.png"}
	for i, n := range names {
		zw.add(t, "images/"+n, testPNG(t, colorOf(i)))
	}
	zw.close(t)
	writeFile(t, dir, "images.zip", zbuf.Bytes())
	// The order file reverses the archive order.
	writeFile(t, dir, "order.txt", []byte("s5.png\ns4.png\ns3.png\ns2.png\ns1.png\ns0.png\n"))
	rng := rand.New(rand.NewPCG(1, 2))
	raw := make([]float64, targets*stimuli*reps)
	avg := make([]float64, targets*stimuli)
	for tg := 0; tg < targets; tg++ {
		for s := 0; s < stimuli; s++ {
			n := 0
			for k := 0; k < reps; k++ {
				i := (tg*stimuli+s)*reps + k
				if k == reps-1 && s%2 == 0 {
					raw[i] = math.NaN() // fewer repeats for some stimuli
					continue
				}
				raw[i] = float64(s*(tg+1)) + 0.3*rng.NormFloat64()
				avg[tg*stimuli+s] += raw[i]
				n++
			}
			avg[tg*stimuli+s] /= float64(n)
		}
	}
	writeArray(t, dir, "raw.npy", []int{targets, stimuli, reps}, raw)
	writeArray(t, dir, "avg.npy", []int{targets, stimuli}, avg)
	m := strings.Replace(strings.Replace(strings.Replace(strings.Replace(validManifest,
		"stimuli:\n  dir: stimuli\n  labels: {csv: labels.csv, column: category, match: filename}\n", "stimuli: {zip: images.zip, order: order.txt}\n", 1),
		"rdms: {file: rdms.npy}", "responses: {file: avg.npy, repeats: {file: raw.npy}}", 1),
		"rsa: {distance: correlation, comparison: spearman}", "ridge: {alphas: [1, 10, 100]}", 1),
		"ceiling: {method: rsa-nili}\nsplits: {count: 4, selection_fraction: 0.5, stratify_by_label: true, seed: 7}", "ceiling: {method: split-half, splits: 20, seed: 3}", 1)
	writeFile(t, dir, "manifest.yaml", []byte(m))
	reg := NewRegistry(objstore.NewMemory())
	res, err := reg.Add(ctx, filepath.Join(dir, "manifest.yaml"), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary
	if s.Kind != KindResponses || s.Targets != 3 || s.Stimuli != 6 || !s.CeilingValid || s.CeilingTargets != 3 || !(s.CeilingUpper > 0.9 && s.CeilingUpper <= 1) {
		t.Errorf("summary %+v", s)
	}
	l, err := reg.Open(ctx, "test.valid")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Sessions) != 1 || l.Sessions[0].ID != "" || l.Stimuli != l.Sessions[0].Stimuli || !reflect.DeepEqual(l.Sessions[0].Responses, avg) {
		t.Fatalf("sessions %+v", l.Sessions)
	}
	if l.Stimuli.Name(0) != "s5.png" || l.Stimuli.HasLabels() {
		t.Errorf("stimulus 0 is %q, want s5.png (order file)", l.Stimuli.Name(0))
	}
	img, err := l.Stimuli.Image(ctx, 5)
	if err != nil || img.Bounds().Dx() != 8 {
		t.Errorf("image 5: %v", err)
	}
	if l.Benchmark.Metric.Folds != 5 || len(l.Benchmark.Metric.Alphas) != 3 {
		t.Errorf("metric %+v", l.Benchmark.Metric)
	}
}

// TestSummaryCarriesNoData checks structurally that a Summary, the only
// thing served about a private benchmark, has no field that could hold
// data: scalars and strings only.
func TestSummaryCarriesNoData(t *testing.T) {
	typ := reflect.TypeFor[Summary]()
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		switch f.Type.Kind() {
		case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
		default:
			if f.Type != reflect.TypeFor[time.Time]() {
				t.Errorf("Summary.%s is %s: a servable summary may hold only scalars and strings", f.Name, f.Type)
			}
		}
	}
}

func TestOpenBuiltins(t *testing.T) {
	reg, _, _ := importedBuiltins(t)
	ctx := context.Background()

	l, err := reg.Open(ctx, "algonauts2019-92.IT")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.RDMs) != 15 || len(l.RDMs[0]) != 92*91/2 || l.Stimuli.Len() != 92 || l.Stimuli.Label(0) != "human bodypart" {
		t.Errorf("algonauts 92 IT: %d subjects, %d pairs, %d stimuli, label %q", len(l.RDMs), len(l.RDMs[0]), l.Stimuli.Len(), l.Stimuli.Label(0))
	}
	if img, err := l.Stimuli.Image(ctx, 91); err != nil || img.Bounds().Dx() != 175 {
		t.Errorf("image 91: %v", err)
	}

	// hIT: the session means equal the authors' session-mean file.
	h, err := reg.Open(ctx, "kriegeskorte2008.hIT")
	if err != nil {
		t.Fatal(err)
	}
	a, err := npy.ReadFile(filepath.Join(datasetsDir(t), "kriegeskorte2008-92", "rdms", "hIT_subject_rdms_sessionmean.npy"))
	if err != nil {
		t.Fatal(err)
	}
	mean := a.Float64()
	for s, v := range h.RDMs {
		k := 0
		for i := 0; i < 92; i++ {
			for j := i + 1; j < 92; j++ {
				if d := math.Abs(v[k] - mean[s*92*92+i*92+j]); d > 1e-12 {
					t.Fatalf("hIT subject %d (%d,%d): mean of sessions differs from the session-mean file by %g", s, i, j, d)
				}
				k++
			}
		}
	}

	v4, err := reg.Open(ctx, "cowley2023.V4")
	if err != nil {
		t.Fatal(err)
	}
	if len(v4.Sessions) != 4 || v4.Sessions[0].ID != "190923" || v4.Sessions[0].Targets != 33 || len(v4.Sessions[0].Responses) != 33*1200 || v4.Stimuli != nil {
		t.Fatalf("cowley V4 sessions: %d, first %q", len(v4.Sessions), v4.Sessions[0].ID)
	}
	// 190923's zip keeps a folder prefix; names drop it.
	if st := v4.Sessions[0].Stimuli; st.Name(0) != "image0001.jpg" || st.Len() != 1200 {
		t.Errorf("190923 stimulus 0 %q of %d", st.Name(0), st.Len())
	}
	if img, err := v4.Sessions[3].Stimuli.Image(ctx, 639); err != nil || img.Bounds().Dx() != 112 {
		t.Errorf("210325 image 639: %v", err)
	}
	pub, err := reg.Open(ctx, "cowley2023.V4.public")
	if err != nil {
		t.Fatal(err)
	}
	// 190925's archive is not in name order: zip order is column order.
	if pub.Sessions[0].ID != "190925" || pub.Sessions[0].Stimuli.Name(0) != "image1018.jpg" {
		t.Errorf("190925 stimulus 0 is %q, want image1018.jpg (archive order)", pub.Sessions[0].Stimuli.Name(0))
	}
}

func TestAggregate(t *testing.T) {
	kids := []string{"b", "a", "c"}
	p := Aggregate("IT", kids, map[string]float64{"a": 0.2, "b": 0.4, "c": 0.6, "x": 9})
	if !p.Complete || math.Abs(p.Score-0.4) > 1e-15 || len(p.Missing) != 0 || !reflect.DeepEqual(p.Children, []string{"a", "b", "c"}) {
		t.Errorf("complete: %+v", p)
	}
	p = Aggregate("IT", kids, map[string]float64{"a": 0.2, "c": math.NaN()})
	if p.Complete || !math.IsNaN(p.Score) || !reflect.DeepEqual(p.Missing, []string{"b", "c"}) {
		t.Errorf("incomplete: %+v", p)
	}
	if p := Aggregate("V4", nil, nil); p.Complete || !math.IsNaN(p.Score) {
		t.Errorf("no children: %+v", p)
	}
	ch := Children([]Summary{{ID: "x", Parent: "IT"}, {ID: "a", Parent: "IT"}, {ID: "v"}, {ID: "e", Parent: "EVC"}})
	if !reflect.DeepEqual(ch, map[string][]string{"IT": {"a", "x"}, "EVC": {"e"}}) {
		t.Errorf("children %v", ch)
	}
}

// TestAddNPZ reads RDMs from a .npz member.
func TestAddNPZ(t *testing.T) {
	dir := tinyDir(t)
	var member bytes.Buffer
	if err := npy.Write(&member, []int{3, 4, 4}, testRDMs(3, 4)); err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw := newZip(&z)
	zw.add(t, "EVC.npy", []byte("not read"))
	zw.add(t, "IT.npy", member.Bytes())
	zw.close(t)
	writeFile(t, dir, "rdms.npz", z.Bytes())
	editManifest(t, dir, "file: rdms.npy", "file: rdms.npz, key: IT")
	reg := NewRegistry(objstore.NewMemory())
	if _, err := reg.Add(context.Background(), filepath.Join(dir, "manifest.yaml"), AddOptions{}); err != nil {
		t.Fatal(err)
	}
	l, err := reg.Open(context.Background(), "test.valid")
	if err != nil || len(l.RDMs) != 3 || l.RDMs[2][5] != testRDMs(3, 4)[32+11] {
		t.Fatalf("open: %v", err)
	}
}
