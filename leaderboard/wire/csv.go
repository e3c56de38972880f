package wire

import (
	"bytes"
	"encoding/csv"
	"math"
	"strconv"

	"github.com/cortexbench/cortexbench/leaderboard"
)

// CSV writes the whole leaderboard as CSV: one row per model, with rank,
// model, average with its SE and 95% interval, coverage (ceiled benchmarks
// scored, of total), partial, whether the average differs reliably from
// the next row's ("true", "false", or empty when not compared),
// completeness, one mean per parent with its SE and interval
// ("mean:<parent>", "mean:<parent>:se", ":ci_low", ":ci_high") and, per
// benchmark, the ceiled score with its SE and CI ("<id>", "<id>:se",
// "<id>:ci_low", "<id>:ci_high"). A missing number is an empty field.
func CSV(lb *leaderboard.Leaderboard) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	head := []string{"rank", "model_hash", "model_name", "family", "average", "average_se", "average_ci_low", "average_ci_high",
		"coverage_scored", "coverage_total", "partial", "differs_from_next", "complete", "missing"}
	for _, p := range lb.Parents {
		head = append(head, "mean:"+p, "mean:"+p+":se", "mean:"+p+":ci_low", "mean:"+p+":ci_high")
	}
	for _, b := range lb.Benchmarks {
		head = append(head, b.ID, b.ID+":se", b.ID+":ci_low", b.ID+":ci_high")
	}
	// Then, per benchmark, what its ceiled score was formed from (issue
	// 17): the raw score, the ceiling, the chosen layer. After every
	// ceiled column, so the columns readers index stay where they were.
	for _, b := range lb.Benchmarks {
		head = append(head, b.ID+":raw", b.ID+":ceiling", b.ID+":layer")
	}
	for i := range head {
		head[i] = SafeCell(head[i])
	}
	if err := w.Write(head); err != nil {
		return nil, err
	}
	num := func(x float64) string {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return ""
		}
		return strconv.FormatFloat(x, 'g', 6, 64)
	}
	rec := make([]string, 0, len(head))
	for _, r := range lb.Rows {
		rec = append(rec[:0], strconv.Itoa(r.Rank), SafeCell(r.Model.Hash), SafeCell(r.Model.Name), SafeCell(r.Model.Family),
			num(r.Average), num(r.AverageSE), num(r.AverageCI[0]), num(r.AverageCI[1]),
			strconv.Itoa(r.Coverage.Scored), strconv.Itoa(r.Coverage.Total), strconv.FormatBool(r.Partial()), separation(r.Next),
			strconv.FormatBool(r.Complete()), strconv.Itoa(len(r.Missing)))
		for _, p := range r.ParentMeans {
			rec = append(rec, num(p.Mean), num(p.SE), num(p.CI[0]), num(p.CI[1]))
		}
		for _, c := range r.Cells {
			if !c.Present {
				rec = append(rec, "", "", "", "")
				continue
			}
			rec = append(rec, num(c.Ceiled), num(c.CeiledSE), num(c.CeiledCILow), num(c.CeiledCIHi))
		}
		for _, c := range r.Cells {
			if !c.Present {
				rec = append(rec, "", "", "")
				continue
			}
			rec = append(rec, num(c.Raw), num(c.Ceiling), SafeCell(c.Layer))
		}
		if err := w.Write(rec); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// separation is a row's Next as a CSV field.
func separation(s leaderboard.Separation) string {
	switch s {
	case leaderboard.Differs:
		return "true"
	case leaderboard.Overlaps:
		return "false"
	}
	return ""
}

// SafeCell neutralises a CSV string cell a spreadsheet would read as a
// formula (OWASP "CSV injection"): a cell starting with '=', '+', '-', '@',
// tab or carriage return gets a leading single quote. Use it on every
// string cell (names, ids, layers) the platform writes to a CSV, never on
// numeric cells formatted from numbers: "-0.12" is a legitimate score.
func SafeCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
