package httpapi

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cortexbench/cortexbench/leaderboard/lbtest"
)

const chromiumPath = "/usr/bin/chromium"

var screenshotDir = flag.String("screenshots", "", "directory to save the browser test's screenshots in")

// newBrowser starts headless Chromium with a fresh profile and everything
// that would reach out to the (closed) network switched off.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("browser test: %s not found (install the Debian package chromium: scripts/setup.sh)", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	return bctx
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if *screenshotDir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 gives a PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(*screenshotDir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func poll(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second))(ctx, tg)
		return err
	})
}

func TestBrowserPages(t *testing.T) {
	ctx := newBrowser(t)
	src := lbtest.Synthetic(12, 5, 24, 1)
	bs, _ := src.Benchmarks(context.Background())
	srv, err := NewServer(Config{Comparer: &fakeComparer{unsupported: bs[1].ID}}, src, src)
	if err != nil {
		t.Fatal(err)
	}
	ts := newLoopbackServer(t, srv)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	// Leaderboard: the table lists the scored models in rank order.
	const rowNames = `[...document.querySelectorAll("#board tbody tr td:nth-child(2) a")].map(a => a.textContent)`
	do(t, ctx, "leaderboard page",
		chromedp.Navigate(ts+"/"),
		chromedp.WaitVisible(css(`body[data-ready="1"]`)),
		chromedp.WaitVisible(css(`#board tbody tr`)),
	)
	names := eval[[]string](t, ctx, rowNames)
	if len(names) != 12 {
		t.Fatalf("table has %d models, want 12: %v", len(names), names)
	}
	ranks := eval[[]int](t, ctx, `[...document.querySelectorAll("#board tbody tr td:first-child")].map(td => +td.textContent)`)
	if ranks[0] != 1 || !slices.IsSorted(ranks) {
		t.Errorf("rows not in rank order: %v", ranks)
	}
	if bars := eval[int](t, ctx, `document.querySelectorAll("#board svg.eb").length`); bars < 12*4 {
		t.Errorf("%d error bars drawn, want at least 48", bars)
	}
	screenshot(t, ctx, "leaderboard.png")

	// Clicking the Model header sorts by name, clicking again reverses.
	do(t, ctx, "sort by model", chromedp.Click(css(`#board th[data-col="1"]`)))
	names = eval[[]string](t, ctx, rowNames)
	dir, err := chromedp.Run(ctx, chromedp.AttributeValue(css(`#board th[data-col="1"]`), "data-dir"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(names) || dir.Value != "asc" {
		t.Errorf("after one click on Model: dir %q, names %v", dir.Value, names)
	}
	do(t, ctx, "sort by model again", chromedp.Click(css(`#board th[data-col="1"]`)))
	names = eval[[]string](t, ctx, rowNames)
	if !slices.IsSortedFunc(names, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Errorf("after two clicks on Model: %v, want descending", names)
	}
	// Clicking Average sorts by average, best first.
	do(t, ctx, "sort by average", chromedp.Click(css(`#board th[data-col="3"]`)))
	avgs := eval[[]float64](t, ctx, `[...document.querySelectorAll("#board tbody tr td.avg")].map(td => +td.textContent)`)
	if !slices.IsSortedFunc(avgs, func(a, b float64) int { return cmpDesc(a, b) }) {
		t.Errorf("after a click on Average: %v, want descending", avgs)
	}

	// Filter by family: only the vit models remain.
	do(t, ctx, "family filter",
		chromedp.SetValue(css(`select[name="family"]`), "vit"),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`document.querySelector('select[name="family"]').dispatchEvent(new Event("change"))`)(ctx, tg)
			return err
		}),
		poll(`document.querySelectorAll("#board tbody tr").length === 3`),
	)
	for _, n := range eval[[]string](t, ctx, rowNames) {
		if !strings.HasPrefix(n, "vit") {
			t.Errorf("family=vit shows %s", n)
		}
	}

	// Model page: a profile plot per benchmark, RDM heat maps for the public ones.
	ms, _ := src.Models(context.Background())
	do(t, ctx, "model page",
		chromedp.Navigate(ts+"/models/"+ms[0].Hash),
		chromedp.WaitVisible(css(`svg.profile path.line`)),
		poll(`document.querySelectorAll("canvas.rdm").length === 8`),
	)
	paths := eval[int](t, ctx, `[...document.querySelectorAll("svg.profile path.line")].filter(p => p.getAttribute("d").split("L").length >= 8).length`)
	canvases := eval[int](t, ctx, `document.querySelectorAll("canvas.rdm").length`)
	painted := eval[int](t, ctx, `[...document.querySelectorAll("canvas.rdm")].filter(c => {
		const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		let lit = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) lit++;
		return lit === c.width * c.height;
	}).length`)
	// 5 benchmarks, 1 private: 4 plots and 4 × 2 heat maps.
	if paths != 4 || canvases != 8 || painted != 8 {
		t.Errorf("model page: %d profile lines (want 4), %d canvases (want 8), %d fully painted", paths, canvases, painted)
	}
	chosen := eval[int](t, ctx, `document.querySelectorAll("svg.profile circle.chosen").length`)
	withheld := eval[int](t, ctx, `document.querySelectorAll(".card .notice").length`)
	if chosen != 4 || withheld != 1 {
		t.Errorf("model page: %d chosen-layer marks (want 4), %d withheld notices (want 1)", chosen, withheld)
	}
	screenshot(t, ctx, "model.png")

	// Benchmark page: ceiling and ranking.
	do(t, ctx, "benchmark page",
		chromedp.Navigate(ts+"/benchmarks/"+bs[0].ID),
		chromedp.WaitVisible(css(`#ranking tbody tr`)),
	)
	rankRows := eval[int](t, ctx, `document.querySelectorAll("#ranking tbody tr").length`)
	ceiling := eval[string](t, ctx, `document.querySelector("#meta dd").textContent`)
	if want := len(srvIndex(t, srv).RankBenchmark(bs[0].ID)); rankRows != want || ceiling == "" || ceiling == "—" {
		t.Errorf("benchmark page: %d ranking rows (want %d), ceiling %q", rankRows, want, ceiling)
	}
	// How its scores are ceiled (issue 16).
	if how := eval[string](t, ctx, `[...document.querySelectorAll("#meta dt")].find((e) => e.textContent === "Ceiled score").nextSibling.textContent`); how != "raw / ceiling" {
		t.Errorf("benchmark page: ceiled score %q, want raw / ceiling", how)
	}

	// Comparisons: the matrix highlights every significant pair (the fake
	// marks pairs two or more ranks apart and every pair with the first),
	// the list names them, and the second row is marked as significantly
	// below the first.
	do(t, ctx, "comparisons", chromedp.WaitVisible(css(`#cmp-matrix tbody tr`)))
	n := rankRows
	wantSig := (n-1)*(n-2)/2 + 1 // pairs with j − i ≥ 2, plus (1st, 2nd)
	sigCells := eval[int](t, ctx, `document.querySelectorAll("#cmp-matrix td.sig").length`)
	items := eval[[]string](t, ctx, `[...document.querySelectorAll("#cmp-list li")].map(li => li.textContent)`)
	marks := eval[int](t, ctx, `document.querySelectorAll("#ranking .sigbelow").length`)
	if sigCells != 2*wantSig || len(items) != wantSig || marks != 1 {
		t.Errorf("comparisons: %d highlighted cells (want %d), %d listed pairs (want %d), %d rank marks (want 1)", sigCells, 2*wantSig, len(items), wantSig, marks)
	}
	if len(items) > 0 && (!strings.Contains(items[0], " > ") || !strings.Contains(items[0], "q = ")) {
		t.Errorf("comparison list item %q, want \"A > B, …, q = …\"", items[0])
	}
	screenshot(t, ctx, "benchmark.png")

	// An unsupported benchmark says why instead of a matrix.
	do(t, ctx, "unsupported comparisons",
		chromedp.Navigate(ts+"/benchmarks/"+bs[1].ID),
		chromedp.WaitVisible(css(`#comparisons .notice`)),
	)
	if msg := eval[string](t, ctx, `document.querySelector("#comparisons .notice").textContent`); !strings.Contains(msg, "RSA-only") {
		t.Errorf("unsupported benchmark: notice %q", msg)
	}
}

func cmpDesc(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// The benchmark page shows the controls: a benchmark where the trained
// model beats the control reliably says so; one where no model does is
// flagged not discriminating.
func TestBrowserControls(t *testing.T) {
	ctx := newBrowser(t)
	src, tester := controlsBoard(t)
	srv, err := NewServer(Config{Controls: tester}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := newLoopbackServer(t, srv)
	do(t, ctx, "discriminating benchmark",
		chromedp.Navigate(ts+"/benchmarks/win.IT"),
		chromedp.WaitVisible(chromedp.CSS(`#discriminating`)),
	)
	if rows := eval[int](t, ctx, `document.querySelectorAll("#controls table.controls tbody tr.sig").length`); rows != 1 {
		t.Errorf("win.IT: %d models marked as beating the control, want 1", rows)
	}
	do(t, ctx, "not discriminating benchmark",
		chromedp.Navigate(ts+"/benchmarks/lose.IT2"),
		chromedp.WaitVisible(chromedp.CSS(`#not-discriminating`)),
	)
	if msg := eval[string](t, ctx, `document.querySelector("#not-discriminating").textContent`); !strings.Contains(msg, "no model beats the control reliably") {
		t.Errorf("lose.IT2: flag %q", msg)
	}
	screenshot(t, ctx, "benchmark-controls.png")
}
