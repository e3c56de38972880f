package httpapi

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/lbtest"
)

// The index table in Chromium (issue 17): the partial row comes last,
// under its heading, with its coverage; every row shows its average's
// interval and coverage; "≈" marks exactly the rows whose average does not
// differ reliably from the row above's; sorting by another column drops
// the heading and the marks; Coverage "common" leaves only comparable
// rows and says what it left out.
func TestBrowserRankingCoverage(t *testing.T) {
	ctx := newBrowser(t)
	src := lbtest.Synthetic(14, 5, 0, 1) // models 6 and 13 each miss a benchmark
	srv, err := NewServer(Config{}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := newLoopbackServer(t, srv)
	lb := srvIndex(t, srv).Rank(leaderboard.Filter{})
	wantMarks, partial := 0, 0
	for i, r := range lb.Rows {
		if i > 0 && lb.Rows[i-1].Next == leaderboard.Overlaps {
			wantMarks++
		}
		if r.Partial() {
			partial++
		}
	}
	if wantMarks == 0 || wantMarks == len(lb.Rows)-1 || partial == 0 {
		t.Fatalf("fixture: %d ≈ marks of %d rows, %d partial: want some of each", wantMarks, len(lb.Rows), partial)
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	do(t, ctx, "leaderboard page",
		chromedp.Navigate(ts+"/"),
		chromedp.WaitVisible(css(`body[data-ready="1"]`)),
		chromedp.WaitVisible(css(`#board tbody tr`)),
	)
	// The rows after the heading are the partial ones, each with its badge.
	after := eval[[]string](t, ctx, `(() => { const trs = [...document.querySelectorAll("#board tbody tr")];
		const h = trs.findIndex(tr => tr.classList.contains("blockhead"));
		return h < 0 ? [] : trs.slice(h + 1).map(tr => tr.querySelector(".badge.partial")?.textContent || "none"); })()`)
	if len(after) != partial {
		t.Fatalf("%d rows under the partial heading, want %d", len(after), partial)
	}
	for _, b := range after {
		if b != "partial 4/5" {
			t.Errorf("partial row badge %q, want \"partial 4/5\"", b)
		}
	}
	if heads := eval[int](t, ctx, `document.querySelectorAll("#board tr.blockhead").length`); heads != 1 {
		t.Errorf("%d partial headings, want 1", heads)
	}
	if marks := eval[int](t, ctx, `document.querySelectorAll("#board td .same").length`); marks != wantMarks {
		t.Errorf("%d ≈ marks, want %d (rows not reliably different from the row above)", marks, wantMarks)
	}
	cis := eval[[]string](t, ctx, `[...document.querySelectorAll("#board tbody td.ci")].map(td => td.textContent)`)
	covs := eval[[]string](t, ctx, `[...document.querySelectorAll("#board tbody td.coverage")].map(td => td.textContent)`)
	if len(cis) != len(lb.Rows) || len(covs) != len(lb.Rows) || !strings.HasPrefix(cis[0], "[0.") || covs[0] != "5/5" {
		t.Errorf("interval cells %v…, coverage cells %v…", cis[:min(2, len(cis))], covs[:min(2, len(covs))])
	}
	screenshot(t, ctx, "leaderboard-coverage.png")

	do(t, ctx, "sort by model", chromedp.Click(css(`#board th[data-col="1"]`)))
	if n := eval[int](t, ctx, `document.querySelectorAll("#board tr.blockhead, #board td .same").length`); n != 0 {
		t.Errorf("sorted by model: %d headings and marks left, want none", n)
	}

	do(t, ctx, "coverage=common",
		chromedp.SetValue(css(`select[name="coverage"]`), "common"),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`document.querySelector('select[name="coverage"]').dispatchEvent(new Event("change"))`)(ctx, tg)
			return err
		}),
		poll(`location.search.includes("coverage=common") && document.querySelector("#count").textContent.includes("left out")`),
	)
	if n := eval[int](t, ctx, `document.querySelectorAll("#board .badge.partial, #board tr.blockhead").length`); n != 0 {
		t.Errorf("coverage=common: %d partial badges or headings, want none", n)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("#board tbody tr").length`); n != len(lb.Rows) {
		t.Errorf("coverage=common: %d rows, want %d", n, len(lb.Rows))
	}
	if href := eval[string](t, ctx, `document.getElementById("csv").getAttribute("href")`); !strings.Contains(href, "coverage=common") {
		t.Errorf("CSV link %q does not follow the coverage choice", href)
	}
}
