package httpapi

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/lbtest"
)

// TestBrowserModelMetadata (issue 17, finding 8): on a model whose
// scores store per-layer SEs, each profile has its ±SE band and says so,
// a hover title on every layer, and a labelled depth axis; each RDM heat
// map has a colour scale. The metadata is shown as text, never as markup
// (a description with tags stays text), a paper link is only made for an
// https URL, and BibTeX with quoted values and nested braces renders as a
// citation.
func TestBrowserModelMetadata(t *testing.T) {
	ctx := newBrowser(t)
	src := lbtest.Synthetic(6, 3, 12, 3)
	ms, _ := src.Models(context.Background())
	bs, _ := src.Benchmarks(context.Background())
	ss, _ := src.Scores(context.Background())
	ms[0].Description = `<img src=x onerror="document.body.dataset.pwned=1"> first line`
	ms[0].License = "CC-BY-4.0"
	ms[0].Paper = "https://doi.org/10.1109/CVPR.2016.90"
	ms[0].BibTeX = "@Article{krizhevsky2012,\n  author = \"Krizhevsky, Alex and Sutskever, Ilya\",\n  title = {{ImageNet} Classification with Deep Convolutional Neural Networks},\n  journal = {Advances in {NIPS}},\n  year = 2012\n}"
	ms[1].Paper = "javascript:alert(1)" // never stored by the submissions API; the page must not link it anyway
	srv, err := NewServer(Config{}, leaderboard.NewMemSource(ms, bs, ss), src)
	if err != nil {
		t.Fatal(err)
	}
	ts := newLoopbackServer(t, srv)
	do(t, ctx, "model page",
		chromedp.Navigate(ts+"/models/"+ms[0].Hash),
		chromedp.WaitVisible(chromedp.CSS(`svg.profile path.line`)),
		poll(`document.querySelectorAll(".legend").length === 4`),
	)
	// 3 benchmarks, the last private: 2 profiles of 8 layers with stored SEs.
	if n := eval[int](t, ctx, `document.querySelectorAll("svg.profile path.band").length`); n != 2 {
		t.Errorf("%d SE bands, want 2", n)
	}
	caps := eval[[]string](t, ctx, `[...document.querySelectorAll("svg.profile")].map(s => s.parentNode.querySelector("figcaption").textContent)`)
	if len(caps) != 2 || !strings.Contains(caps[0], "band: ± 1 SE per layer") {
		t.Errorf("profile captions %q, want each to say the band is ± 1 SE per layer", caps)
	}
	titles := eval[[]string](t, ctx, `[...document.querySelectorAll("svg.profile circle title")].map(t => t.textContent)`)
	if len(titles) != 16 || !strings.HasPrefix(titles[0], "L000.Conv · ceiled ") || !strings.Contains(titles[0], "(SE)") {
		t.Errorf("hover titles %q, want 16, each naming its layer with its score and SE", titles)
	}
	if ticks := eval[[]string](t, ctx, `[...document.querySelector("svg.profile").querySelectorAll("text.depth-tick")].map(t => t.textContent)`); strings.Join(ticks, " ") != "0 0.25 0.5 0.75 1" {
		t.Errorf("depth ticks %q", ticks)
	}
	if legends := eval[int](t, ctx, `[...document.querySelectorAll(".legend")].filter(l => +l.querySelector(".lo").textContent < +l.querySelector(".hi").textContent).length`); legends != 4 {
		t.Errorf("%d colour scales with min < max, want 4", legends)
	}
	if d := eval[string](t, ctx, `document.querySelector("#description").textContent`); d != ms[0].Description {
		t.Errorf("description %q, want it as text", d)
	}
	if pwned := eval[string](t, ctx, `document.body.dataset.pwned || ""`); pwned != "" || eval[int](t, ctx, `document.querySelectorAll("#meta img").length`) != 0 {
		t.Error("the description was rendered as markup")
	}
	if href := eval[string](t, ctx, `document.querySelector("#paper").href`); href != ms[0].Paper {
		t.Errorf("paper link %q", href)
	}
	cite := eval[string](t, ctx, `[...document.querySelector("#citation").childNodes].filter(n => n.nodeName !== "DETAILS" && n.nodeName !== "BUTTON").map(n => n.textContent).join("")`)
	if want := "Alex Krizhevsky and Ilya Sutskever (2012). ImageNet Classification with Deep Convolutional Neural Networks. Advances in NIPS."; strings.TrimSpace(cite) != want {
		t.Errorf("citation %q, want %q", cite, want)
	}
	if bib := eval[string](t, ctx, `document.querySelector("#citation pre.bibtex").textContent`); bib != ms[0].BibTeX {
		t.Errorf("BibTeX shown %q, want it as given", bib)
	}

	do(t, ctx, "model with a non-https paper",
		chromedp.Navigate(ts+"/models/"+ms[1].Hash),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)),
	)
	if n := eval[int](t, ctx, `document.querySelectorAll("#paper, a[href^='javascript']").length`); n != 0 {
		t.Errorf("a non-https paper was linked (%d links)", n)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("#citation").length`); n != 0 {
		t.Errorf("a model without BibTeX shows a citation")
	}
}
