package wire

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/scoring"
)

// DefaultTextWidth is the width WriteText keeps to (issue 17: the
// terminal leaderboard was ~280 columns wide). MinTextWidth is the least
// width the table's fixed columns (rank, a 16-rune model name, average and
// interval, coverage) fit in; below it lines may be longer than asked.
const (
	DefaultTextWidth = 100
	MinTextWidth     = 60
)

// TextOptions shape the text leaderboard. Width is the most runes a line
// may take (DefaultTextWidth when 0): model names are shortened and, if
// still too wide, the rightmost region means left out (and said so).
// Wide adds a column per benchmark (ceiled ± SE) and lifts the width limit.
type TextOptions struct {
	Width int
	Wide  bool
}

// WriteText writes the leaderboard as a text table of at most
// DefaultTextWidth columns, with its rules: rank, model, average with its
// 95% interval, coverage and the region (parent) means; "≈" marks a row
// whose average does not differ reliably from the row above's, and the
// partial rows come under their own heading.
func WriteText(w io.Writer, lb *leaderboard.Leaderboard) {
	WriteTextOptions(w, lb, TextOptions{})
}

// column is one column of the text table: its header and cells, and
// whether it is right-aligned.
type column struct {
	head  string
	cells []string
	right bool
}

func (c *column) width() int {
	n := utf8.RuneCountInString(c.head)
	for _, s := range c.cells {
		n = max(n, utf8.RuneCountInString(s))
	}
	return n
}

// WriteTextOptions writes the leaderboard as WriteText does, shaped by opt.
func WriteTextOptions(w io.Writer, lb *leaderboard.Leaderboard, opt TextOptions) {
	width := opt.Width
	if width <= 0 {
		width = DefaultTextWidth
	}
	if opt.Wide {
		width = math.MaxInt
	}
	n := len(lb.Rows)
	rank := column{head: "RANK", cells: make([]string, n)}
	mark := column{head: "", cells: make([]string, n)}
	model := column{head: "MODEL", cells: make([]string, n)}
	avg := column{head: "AVERAGE [95% CI]", cells: make([]string, n)}
	cov := column{head: "SCORED", cells: make([]string, n), right: true}
	parents := make([]column, len(lb.Parents))
	for j, p := range lb.Parents {
		parents[j] = column{head: p, cells: make([]string, n), right: true}
	}
	var benches []column
	if opt.Wide {
		benches = make([]column, len(lb.Benchmarks))
		for j, b := range lb.Benchmarks {
			benches[j] = column{head: b.ID, cells: make([]string, n), right: true}
		}
	}
	for i, r := range lb.Rows {
		rank.cells[i] = fmt.Sprint(r.Rank)
		if i > 0 && lb.Rows[i-1].Next == leaderboard.Overlaps {
			mark.cells[i] = "≈"
		}
		model.cells[i] = r.Model.Name
		avg.cells[i] = fmt.Sprintf("%s [%s, %s]", num3(r.Average), num3(r.AverageCI[0]), num3(r.AverageCI[1]))
		cov.cells[i] = fmt.Sprintf("%d/%d", r.Coverage.Scored, r.Coverage.Total)
		for j, p := range r.ParentMeans {
			parents[j].cells[i] = num3(p.Mean)
		}
		for j := range benches {
			if c := r.Cells[j]; c.Present {
				benches[j].cells[i] = fmt.Sprintf("%.3f±%.3f", c.Ceiled, c.CeiledSE)
			} else {
				benches[j].cells[i] = "—"
			}
		}
	}
	const gap = 2
	total := func(cols []*column) int {
		t := 0
		for _, c := range cols {
			if c == &mark {
				t += 1 + 1 // "≈" and one space: it belongs to the model
				continue
			}
			t += c.width() + gap
		}
		return t - gap
	}
	cols := []*column{&rank, &mark, &model, &avg, &cov}
	for j := range parents {
		cols = append(cols, &parents[j])
	}
	for j := range benches {
		cols = append(cols, &benches[j])
	}
	// Too wide: shorten model names (to no fewer than 16 runes), then
	// leave out region means from the right.
	names := slices.Clone(model.cells)
	if over := total(cols) - width; over > 0 {
		if mw := model.width(); mw > 16 {
			shorten(&model, max(16, mw-over))
		}
	}
	var dropped []string
	for total(cols) > width && len(cols) > 5 {
		dropped = append([]string{cols[len(cols)-1].head}, dropped...)
		cols = cols[:len(cols)-1]
	}
	// Room left by the dropped columns goes back to the names.
	if slack := width - total(cols); slack > 0 && !slices.Equal(names, model.cells) {
		mw := model.width() + slack
		model.cells = names
		shorten(&model, mw)
	}
	widths := make([]int, len(cols))
	for k, c := range cols {
		widths[k] = c.width()
	}
	line := func(cell func(c *column) string) {
		var b strings.Builder
		for k, c := range cols {
			s := cell(c)
			pad := widths[k] - utf8.RuneCountInString(s)
			switch {
			case c == &mark:
				b.WriteString(s + strings.Repeat(" ", pad) + " ")
				continue
			case k > 0 && cols[k-1] != &mark:
				b.WriteString(strings.Repeat(" ", gap))
			}
			if c.right {
				b.WriteString(strings.Repeat(" ", pad) + s)
			} else {
				b.WriteString(s + strings.Repeat(" ", pad))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	line(func(c *column) string { return c.head })
	for i := range lb.Rows {
		if lb.Rows[i].Partial() && (i == 0 || !lb.Rows[i-1].Partial()) {
			wrap(w, width, "partial coverage: each averaged over its own benchmarks (SCORED), ranked among these rows only")
		}
		line(func(c *column) string { return c.cells[i] })
	}
	fmt.Fprintln(w)
	if len(dropped) > 0 {
		wrap(w, width, fmt.Sprintf("not shown, to fit %d columns: means of %s (--wide shows every column)", width, strings.Join(dropped, ", ")))
	}
	if len(lb.Excluded) > 0 {
		wrap(w, width, "coverage=common left out "+strings.Join(lb.Excluded, ", ")+": some listed model has no score on them")
	}
	wrap(w, width, "≈ the average does not differ reliably from the row above's (the 95% interval of the difference includes 0)")
	wrap(w, width, "average: "+leaderboard.AggregationRule)
	wrap(w, width, "missing: "+leaderboard.MissingRule)
	wrap(w, width, "intervals: "+leaderboard.IntervalRule)
	wrap(w, width, "unceiled: "+leaderboard.UnceiledRule)
	// Which ceiling each column divides by, and how (issue 16).
	for _, b := range lb.Benchmarks {
		if b.CeilingKind == "" {
			continue
		}
		c := scoring.Conventions{Ceiling: b.CeilingKind, Transform: b.Transform}
		wrap(w, width, fmt.Sprintf("%s: ceiled = %s, ceiling %.4f (%s)", b.ID, c.Formula(), b.Ceiling, b.CeilingKind))
	}
}

// shorten cuts the column's cells to at most n runes, ending a cut one
// with "…".
func shorten(c *column, n int) {
	for i, s := range c.cells {
		if utf8.RuneCountInString(s) > n {
			c.cells[i] = string([]rune(s)[:n-1]) + "…"
		}
	}
}

// wrap writes text in lines of at most width runes, breaking at spaces
// (a word longer than width gets a line of its own); continuation lines
// are indented by two spaces.
func wrap(w io.Writer, width int, text string) {
	var line strings.Builder
	n := 0
	for _, word := range strings.Fields(text) {
		wl := utf8.RuneCountInString(word)
		switch {
		case n == 0:
		case n+1+wl <= width:
			line.WriteByte(' ')
			n++
		default:
			fmt.Fprintln(w, line.String())
			line.Reset()
			line.WriteString("  ")
			n = 2
		}
		line.WriteString(word)
		n += wl
	}
	if n > 0 {
		fmt.Fprintln(w, line.String())
	}
}

// num3 is x with 3 decimals, "—" when it is not finite.
func num3(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "—"
	}
	return fmt.Sprintf("%.3f", x)
}
