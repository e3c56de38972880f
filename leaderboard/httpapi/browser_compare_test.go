package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/cortexbench/cortexbench/leaderboard/lbtest"
)

// TestBrowserCompare opens the side-by-side page of two models (issue 17,
// finding 7) in Chromium: the table has a row per benchmark both are
// scored on with both scores, the difference, q and the reliable marks,
// the benchmark only one is scored on is listed, and each public
// benchmark's layer profiles of both models are drawn overlaid, every
// point naming its layer on hover. The model page's "compare with…"
// picker and the leaderboard's link lead there.
func TestBrowserCompare(t *testing.T) {
	ctx := newBrowser(t)
	src := lbtest.Synthetic(12, 5, 0, 3)
	bs, _ := src.Benchmarks(context.Background())
	ms, _ := src.Models(context.Background())
	a, b := ms[0], ms[6] // model 6 misses benchmark 1
	srv, err := NewServer(Config{Comparer: &fakeComparer{unsupported: bs[2].ID}}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := newLoopbackServer(t, srv)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	do(t, ctx, "compare page",
		chromedp.Navigate(ts+"/compare?models="+a.Name+","+b.Hash[:12]),
		chromedp.WaitVisible(css(`body[data-ready="1"]`)),
		chromedp.WaitVisible(css(`#cmp tbody tr`)),
	)
	if e := eval[string](t, ctx, `document.getElementById("error").hidden ? "" : document.getElementById("error").textContent`); e != "" {
		t.Fatalf("compare page error: %s", e)
	}
	rows := eval[[]string](t, ctx, `[...document.querySelectorAll("#cmp tbody tr")].map(r => r.dataset.benchmark)`)
	if len(rows) != 4 || strings.Join(rows, " ") == "" {
		t.Fatalf("table rows %v, want the 4 benchmarks both are scored on", rows)
	}
	for _, r := range rows {
		if r == bs[1].ID {
			t.Errorf("%s is listed as compared; only A is scored on it", r)
		}
	}
	// Every row shows both scores with intervals, a difference and q.
	cells := eval[[]string](t, ctx, `[...document.querySelectorAll("#cmp tbody tr")].map(r => [...r.children].map(td => td.textContent).join("|"))`)
	for _, c := range cells {
		f := strings.Split(c, "|")
		if len(f) != 10 || !strings.Contains(f[1], "[") || !strings.Contains(f[3], "[") || !strings.ContainsAny(f[5], "+-") || f[7] == "—" {
			t.Errorf("row %q: want benchmark, A [CI], layer, B [CI], layer, B − A [CI], p, q, mark, test", c)
		}
	}
	// The marks are the API's winners (the fake bootstrap puts A reliably
	// ahead on the 3 RSA rows); the unsupported benchmark is compared from
	// the SEs.
	_, body := get(t, srv.Handler(), "/api/v1/compare?models="+a.Hash+","+b.Hash)
	var doc twoModelDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	wantMarks := 0
	for _, r := range doc.Benchmarks {
		if r.Winner == "a" {
			wantMarks++
		}
	}
	marks := eval[int](t, ctx, `document.querySelectorAll('#cmp tbody tr[data-winner="a"]').length`)
	shown := eval[int](t, ctx, `[...document.querySelectorAll('#cmp tbody td.mark')].filter(td => td.textContent === "A ✔").length`)
	tests := eval[string](t, ctx, `document.querySelector('#cmp tbody tr[data-benchmark="`+bs[2].ID+`"] td:last-child').textContent`)
	if wantMarks < 3 || marks != wantMarks || shown != wantMarks || tests != "unpaired from SEs" {
		t.Errorf("%d rows marked A reliably ahead, %d shown (want %d, at least 3); %s test %q", marks, shown, wantMarks, bs[2].ID, tests)
	}
	if nc := eval[string](t, ctx, `[...document.querySelectorAll("#not-compared li.not-compared")].map(li => li.textContent).join("\n")`); !strings.Contains(nc, bs[1].ID) || !strings.Contains(nc, "only") {
		t.Errorf("not compared: %q", nc)
	}
	if s := eval[string](t, ctx, `document.getElementById("summary").textContent`); !strings.Contains(s, "4 benchmark(s) compared") || !strings.Contains(s, fmt.Sprintf("A wins reliably on %d", wantMarks)) {
		t.Errorf("summary %q", s)
	}
	// Overlaid profiles: the 3 public benchmarks compared, two lines of
	// 8 layers each, both reported layers marked, names on hover; the
	// private one says its profiles are withheld.
	plots := eval[int](t, ctx, `document.querySelectorAll("#profiles svg.profile.compare").length`)
	lines := eval[int](t, ctx, `[...document.querySelectorAll("#profiles svg.profile.compare")].filter(s =>
		["a", "b"].every(w => { const p = s.querySelector("path.line-" + w); return p && p.getAttribute("d").split("L").length === 8; })).length`)
	chosen := eval[int](t, ctx, `document.querySelectorAll("#profiles circle.chosen-a, #profiles circle.chosen-b").length`)
	titles := eval[[]string](t, ctx, `[...document.querySelectorAll("#profiles svg.profile.compare circle title")].map(t => t.textContent)`)
	withheld := eval[int](t, ctx, `document.querySelectorAll("#profiles .card .notice").length`)
	if plots != 3 || lines != 3 || chosen != 6 || withheld != 1 {
		t.Errorf("profiles: %d plots (want 3), %d with both lines of 8 layers, %d reported-layer marks (want 6), %d withheld notices (want 1)", plots, lines, chosen, withheld)
	}
	if len(titles) != 3*2*8 {
		t.Errorf("%d layer points with a hover title, want 48", len(titles))
	} else if !strings.HasPrefix(titles[0], "A: ") || !strings.Contains(titles[0], "L000.Conv") || !strings.Contains(strings.Join(titles, "\n"), "L007.Conv") {
		t.Errorf("hover titles do not name the layers: %q …", titles[:2])
	}
	screenshot(t, ctx, "compare.png")

	// The model page offers "compare with…", which leads to this page.
	do(t, ctx, "model page picker",
		chromedp.Navigate(ts+"/models/"+a.Hash),
		chromedp.WaitVisible(css(`#compare-other`)),
	)
	if n := eval[int](t, ctx, `document.querySelectorAll("#compare-other option").length`); n != len(ms)-1 {
		t.Errorf("compare with… lists %d models, want the %d others", n, len(ms)-1)
	}
	do(t, ctx, "pick a model",
		chromedp.SetValue(css(`#compare-other`), b.Hash),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`document.getElementById("compare-other").dispatchEvent(new Event("change"))`)(ctx, tg)
			return err
		}),
		chromedp.Click(css(`#compare-link`)),
		chromedp.WaitVisible(css(`#cmp tbody tr`)),
	)
	if sel := eval[[]string](t, ctx, `[document.getElementById("model-a").value, document.getElementById("model-b").value, location.search]`); sel[0] != a.Hash || sel[1] != b.Hash || !strings.Contains(sel[2], a.Hash+","+b.Hash) {
		t.Errorf("after compare with…: pickers %v", sel)
	}
	// The leaderboard links to the page.
	do(t, ctx, "leaderboard link", chromedp.Navigate(ts+"/"), chromedp.WaitVisible(css(`body[data-ready="1"]`)))
	if href := eval[string](t, ctx, `document.querySelector('header nav a[href="/compare"]') ? "/compare" : ""`); href == "" {
		t.Error("the leaderboard does not link to /compare")
	}
}
