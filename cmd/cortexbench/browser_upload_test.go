package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/submissions/submissionstest"
)

// The browser test lives here, not in leaderboard/httpapi: it mounts the
// submissions API beside the leaderboard as 'serve' does, and leaderboard
// packages do not import submissions.

const chromiumBinary = "/usr/bin/chromium"

var uploadScreenshots = flag.String("upload-screenshots", "", "directory to save TestBrowserUploadForm's screenshots in")

// shot saves a full-page screenshot when -upload-screenshots is given.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if *uploadScreenshots == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(*uploadScreenshots, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// headlessChromium starts headless Chromium with a fresh profile and
// background networking switched off, for at most limit.
func headlessChromium(t *testing.T, limit time.Duration) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumBinary); err != nil {
		t.Skipf("browser test: %s not found (install the Debian package chromium: scripts/setup.sh --test)", chromiumBinary)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumBinary), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-extensions", true), chromedp.Flag("no-pings", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	return bctx
}

func jsEval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func jsPoll(expr string, within time.Duration) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(within))(ctx, tg)
		return err
	})
}

const uploadBibTeX = `@inproceedings{he2016deep,
  title={Deep Residual Learning for Image Recognition},
  author={He, Kaiming and Zhang, Xiangyu and Ren, Shaoqing and Sun, Jian},
  booktitle={Proceedings of the IEEE Conference on Computer Vision and Pattern Recognition},
  year={2016}
}`

// TestBrowserUploadForm (issue 17, finding 9): in Chromium, against a
// real 'serve' (submissions API, workers with ONNX Runtime, leaderboard),
// a submitter pastes a token, fills the upload form (a real ONNX file,
// name, a preset then the spec, paper, licence, description, BibTeX) and
// submits; the answer names the submission, which appears in the status
// table with its id and state and is scored. The model page then shows
// the metadata, the citation (copied by its button), the preprocessing
// explained, the profile with each layer's id on hover (SVG <title>) and
// a depth axis, downloads that serve the profile, and the RDMs' colour
// scales. The token is in sessionStorage, never a cookie or localStorage.
func TestBrowserUploadForm(t *testing.T) {
	ortAvailable(t)
	sh := shared(t)
	ctx := t.Context()
	state := t.TempDir()
	store, db := filepath.Join(state, "objects"), filepath.Join(state, "registry.db")
	env, _, _ := modelsEnv(t)
	vars := map[string]string{"CORTEXBENCH_ONNXRUNTIME_LIB": env.Getenv("CORTEXBENCH_ONNXRUNTIME_LIB")}
	if _, e, err := runWith(ctx, t, vars, "benchmarks", "import-builtin", "--store", store, "--data", filepath.Join(sh, "datasets"), "algonauts2019-92.IT"); err != nil {
		t.Fatal(err, e)
	}
	if _, e, err := runWith(ctx, t, vars, "users", "add", "ada", "--db", db); err != nil {
		t.Fatal(err, e)
	}
	out, e, err := runWith(ctx, t, vars, "tokens", "create", "--user", "ada", "--db", db, "--json")
	if err != nil {
		t.Fatal(err, e)
	}
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.Token == "" {
		t.Fatalf("token %q: %v", out, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	sctx, stop := context.WithCancel(ctx)
	var sout syncBuffer
	done := make(chan error, 1)
	go func() {
		senv := &Env{Stdout: &sout, Stderr: &sout, Getenv: func(k string) string { return vars[k] }}
		done <- runServe(sctx, senv, []string{"--addr", addr, "--store", store, "--db", db, "--refresh", "300ms"})
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, sout.String())
		}
	}()
	base := "http://" + addr
	for i := 0; ; i++ {
		if r, err := http.Get(base + "/api/v1/benchmarks"); err == nil {
			r.Body.Close()
			break
		}
		if i > 100 {
			t.Fatalf("server did not start:\n%s", sout.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	file := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := os.WriteFile(file, submissionstest.TinyCNN(17), 0o644); err != nil {
		t.Fatal(err)
	}

	b := headlessChromium(t, 3*time.Minute)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(b, steps...); err != nil {
			t.Fatalf("%s: %v\nserver:\n%s", what, err, sout.String())
		}
	}
	step("submissions page",
		chromedp.Navigate(base+"/submissions"),
		chromedp.WaitVisible(css(`body[data-ready="1"]`)),
		jsPoll(`document.querySelectorAll('#upload select[name="preset"] option').length > 1`, 10*time.Second),
	)
	// The presets are the builtin specs; choosing one fills the spec text.
	if n := jsEval[int](t, b, `document.querySelectorAll('#upload select[name="preset"] option').length`); n != len(models.Builtins)+1 {
		t.Errorf("preset select has %d options, want %d presets and the blank one", n, len(models.Builtins))
	}
	imagenet := models.Builtins["imagenet_nchw"].String()
	step("choose a preset",
		chromedp.SetValue(css(`#upload select[name="preset"]`), imagenet),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`document.querySelector('#upload select[name="preset"]').dispatchEvent(new Event("change"))`)(ctx, tg)
			return err
		}),
	)
	if got := jsEval[string](t, b, `document.querySelector('#upload input[name="preprocessing"]').value`); got != imagenet {
		t.Errorf("after choosing imagenet_nchw the spec field holds %q, want %q", got, imagenet)
	}
	// The tiny CNN takes 8×8 images: the spec it needs is typed over the preset.
	step("fill the form",
		chromedp.SendKeys(css(`#token`), tok.Token),
		chromedp.SetUploadFiles(css(`#upload input[name="model"]`), []string{file}),
		chromedp.SendKeys(css(`#upload input[name="name"]`), "tiny-from-the-web"),
		chromedp.SetValue(css(`#upload input[name="preprocessing"]`), submissionstest.Spec),
		chromedp.SendKeys(css(`#upload input[name="paper"]`), "https://arxiv.org/abs/1512.03385"),
		chromedp.SendKeys(css(`#upload input[name="license"]`), "MIT"),
		chromedp.SendKeys(css(`#upload textarea[name="description"]`), "A tiny CNN, uploaded from the web form."),
		chromedp.SetValue(css(`#upload textarea[name="bibtex"]`), uploadBibTeX),
		chromedp.Click(css(`#upload button[type="submit"]`)),
		jsPoll(`!!document.querySelector("#accepted") || document.querySelector("#upload-result").className === "error"`, 30*time.Second),
	)
	id := jsEval[string](t, b, `document.querySelector("#accepted") ? document.querySelector("#accepted").dataset.id : ""`)
	if id == "" {
		t.Fatalf("upload refused: %s\nserver:\n%s", jsEval[string](t, b, `document.querySelector("#upload-result").textContent`), sout.String())
	}
	// The submission's row: its id and a state, polled until scored.
	row := `document.querySelector('#subs tbody tr[data-id="` + id + `"]')`
	step("submission listed", jsPoll(row+` !== null`, 10*time.Second))
	if got := jsEval[string](t, b, row+`.querySelector(".sub-id").textContent`); got != id {
		t.Errorf("status row id %q, want %q", got, id)
	}
	if st := jsEval[string](t, b, row+`.querySelector(".state").textContent`); st == "" {
		t.Error("status row has no state")
	}
	step("submission scored", jsPoll(row+`.querySelector(".state").textContent === "done"`, 2*time.Minute))
	// The token: in this tab's sessionStorage, not in localStorage or a cookie.
	if got := jsEval[string](t, b, `sessionStorage.getItem("cortexbench.token") || ""`); got != tok.Token {
		t.Errorf("sessionStorage token %q, want the pasted one", got)
	}
	if got := jsEval[string](t, b, `(localStorage.getItem("cortexbench.token") || "") + document.cookie`); got != "" {
		t.Errorf("the token leaked to localStorage or a cookie: %q", got)
	}
	shot(t, b, "submissions.png")
	hash := jsEval[string](t, b, row+`.querySelector("a").getAttribute("href").split("/").pop()`)

	// The model page, once the leaderboard has refreshed.
	for i := 0; ; i++ {
		r, err := http.Get(base + "/api/v1/models/" + hash)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode == 200 && strings.Contains(string(body), `"layers":[{`) {
			break
		}
		if i > 100 {
			t.Fatalf("model %s not served with a profile: %d %s", hash, r.StatusCode, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	step("model page",
		chromedp.Navigate(base+"/models/"+hash),
		chromedp.WaitVisible(css(`body[data-ready="1"]`)),
		chromedp.WaitVisible(css(`svg.profile path.line`)),
		jsPoll(`document.querySelectorAll(".legend canvas.scale").length === 2`, 10*time.Second),
	)
	shot(t, b, "model.png")
	if href := jsEval[string](t, b, `document.querySelector("#paper").href`); href != "https://arxiv.org/abs/1512.03385" {
		t.Errorf("paper link %q", href)
	}
	if lic := jsEval[string](t, b, `document.querySelector("#license").textContent`); lic != "MIT" {
		t.Errorf("licence %q", lic)
	}
	if d := jsEval[string](t, b, `document.querySelector("#description").textContent`); d != "A tiny CNN, uploaded from the web form." {
		t.Errorf("description %q", d)
	}
	spec := jsEval[string](t, b, `document.querySelector("#preprocessing").textContent`)
	for _, want := range []string{"size=8", "centre-crop 8×8", "(x − mean) / std with mean 0.5 (every channel), std 0.25 (every channel)", "layout NCHW"} {
		if !strings.Contains(spec, want) {
			t.Errorf("preprocessing %q lacks %q", spec, want)
		}
	}
	cite := jsEval[string](t, b, `[...document.querySelector("#citation").childNodes].filter(n => n.nodeName !== "DETAILS" && n.nodeName !== "BUTTON").map(n => n.textContent).join("")`)
	if want := "Kaiming He, Xiangyu Zhang, Shaoqing Ren, and Jian Sun (2016). Deep Residual Learning for Image Recognition. Proceedings of the IEEE Conference on Computer Vision and Pattern Recognition."; strings.TrimSpace(cite) != want {
		t.Errorf("citation %q, want %q", cite, want)
	}
	step("copy the BibTeX", chromedp.Click(css(`#copy-bibtex`)), jsPoll(`document.querySelector("#copy-bibtex").textContent !== "Copy BibTeX"`, 5*time.Second))
	// Headless Chromium may refuse the clipboard: then the BibTeX is selected for Ctrl+C.
	switch got := jsEval[string](t, b, `document.querySelector("#copy-bibtex").textContent`); got {
	case "Copied":
	case "Selected: press Ctrl+C":
		if sel := jsEval[string](t, b, `String(getSelection())`); sel != uploadBibTeX {
			t.Errorf("selected %q, want the BibTeX", sel)
		}
	default:
		t.Errorf("copy button says %q", got)
	}
	// Every plotted layer has its id on hover; the chosen one is marked; the depth axis is labelled 0…1.
	titles := jsEval[[]string](t, b, `[...document.querySelectorAll("svg.profile circle title")].map(t => t.textContent)`)
	var prof struct {
		Layer  string `json:"layer"`
		Layers []struct {
			Layer string `json:"layer"`
			Name  string `json:"name"`
		} `json:"layers"`
	}
	r, err := http.Get(base + jsEval[string](t, b, `document.querySelector("a.profile-json").getAttribute("href")`))
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(r.Body).Decode(&prof)
	r.Body.Close()
	if err != nil || r.StatusCode != 200 || len(prof.Layers) == 0 {
		t.Fatalf("profile.json link: %d %v %+v", r.StatusCode, err, prof)
	}
	if len(titles) != len(prof.Layers) {
		t.Errorf("%d hover titles for %d layers: %q", len(titles), len(prof.Layers), titles)
	}
	for i, l := range prof.Layers {
		want := l.Layer
		if l.Name != "" {
			want = l.Layer + " (" + l.Name + ")"
		}
		if i < len(titles) && !strings.Contains(titles[i], want) {
			t.Errorf("hover title %d %q lacks the layer %q", i, titles[i], want)
		}
	}
	if chosen := jsEval[string](t, b, `document.querySelector("svg.profile circle.chosen title").textContent`); !strings.Contains(chosen, "chosen layer "+prof.Layer) {
		t.Errorf("chosen mark's title %q, want it to name %s", chosen, prof.Layer)
	}
	ticks := jsEval[[]string](t, b, `[...document.querySelectorAll("svg.profile text.depth-tick")].map(t => t.textContent)`)
	axis := jsEval[string](t, b, `document.querySelector("svg.profile text.depth-label").textContent`)
	if strings.Join(ticks, " ") != "0 0.25 0.5 0.75 1" || !strings.Contains(axis, "relative depth") {
		t.Errorf("depth axis: ticks %q, label %q", ticks, axis)
	}
	if note := jsEval[string](t, b, `document.querySelector(".card figcaption").textContent`); !strings.Contains(note, "band") {
		t.Errorf("profile caption %q does not say what the band is (or that there is none)", note)
	}
	csvHref := jsEval[string](t, b, `document.querySelector("a.profile-csv").getAttribute("href")`)
	r, err = http.Get(base + csvHref)
	if err != nil {
		t.Fatal(err)
	}
	csvBody, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || strings.Count(string(csvBody), "\n") != len(prof.Layers)+1 || !strings.HasPrefix(string(csvBody), "model_hash,") {
		t.Errorf("profile.csv link %s: %d\n%s", csvHref, r.StatusCode, csvBody)
	}
	// Each heat map has its colour scale with its min and max.
	legends := jsEval[[]string](t, b, `[...document.querySelectorAll(".legend")].map(l => l.querySelector(".lo").textContent + " " + l.querySelector(".hi").textContent)`)
	if len(legends) != 2 {
		t.Errorf("colour scales %q, want 2 (model and brain RDM)", legends)
	}
	for _, l := range legends {
		var lo, hi float64
		if n, _ := fmt.Sscan(l, &lo, &hi); n != 2 || !(lo < hi) {
			t.Errorf("colour scale %q: want min < max", l)
		}
	}
}
