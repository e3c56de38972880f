package httpapi

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// coverageDoc is the part of the leaderboard document issue 17 added.
type coverageDoc struct {
	Filter struct {
		Coverage string `json:"coverage"`
	} `json:"filter"`
	Benchmarks []struct {
		ID string `json:"id"`
	} `json:"benchmarks"`
	Excluded []string `json:"excluded"`
	Total    int      `json:"total"`
	Rules    struct {
		Intervals string `json:"intervals"`
	} `json:"rules"`
	Rows []struct {
		Rank      int        `json:"rank"`
		Average   float64    `json:"average"`
		AverageSE *float64   `json:"average_se"`
		AverageCI [2]float64 `json:"average_ci"`
		Coverage  struct {
			Scored, Total int
		} `json:"coverage"`
		Partial         bool     `json:"partial"`
		DiffersFromNext *bool    `json:"differs_from_next"`
		Missing         []string `json:"missing"`
		ParentMeans     []struct {
			Mean *float64   `json:"mean"`
			SE   *float64   `json:"se"`
			CI   [2]float64 `json:"ci"`
		} `json:"parent_means"`
	} `json:"rows"`
}

// The leaderboard API ranks partial rows after the complete ones, with
// coverage, intervals and neighbour separations; coverage=common keeps
// the benchmarks every model has and names the others; a bad coverage
// value is refused with the values allowed.
func TestLeaderboardCoverageAndIntervals(t *testing.T) {
	f := newFixture(t) // model 6 of 12 misses one of the 5 benchmarks
	h := f.srv.Handler()
	res, body := get(t, h, "/api/v1/leaderboard?limit=100")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET leaderboard: %d %s", res.StatusCode, body)
	}
	var doc coverageDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Total != 12 || len(doc.Rows) != 12 || doc.Filter.Coverage != "all" || len(doc.Benchmarks) != 5 || doc.Rules.Intervals == "" {
		t.Fatalf("total %d rows %d coverage %q columns %d intervals rule %q", doc.Total, len(doc.Rows), doc.Filter.Coverage, len(doc.Benchmarks), doc.Rules.Intervals)
	}
	last := doc.Rows[11]
	if !last.Partial || last.Coverage.Scored != 4 || last.Coverage.Total != 5 || last.Rank != 12 || last.DiffersFromNext != nil {
		t.Errorf("the partial row: %+v, want last, rank 12, 4/5, not compared", last)
	}
	if r := doc.Rows[10]; r.Partial || r.DiffersFromNext != nil {
		t.Errorf("the last complete row: partial %v differs_from_next %v, want complete and null (the next is partial)", r.Partial, r.DiffersFromNext)
	}
	for i, r := range doc.Rows[:11] {
		if r.Partial || r.AverageSE == nil || !(r.AverageCI[0] < r.Average && r.Average < r.AverageCI[1]) {
			t.Errorf("row %d: partial %v, average %v SE %v CI %v", i, r.Partial, r.Average, r.AverageSE, r.AverageCI)
		}
		if i < 10 && r.DiffersFromNext == nil {
			t.Errorf("row %d: differs_from_next null between two complete rows", i)
		}
		for _, p := range r.ParentMeans {
			if p.Mean == nil || p.SE == nil || !(p.CI[0] <= *p.Mean && *p.Mean <= p.CI[1]) {
				t.Errorf("row %d parent mean %+v", i, p)
			}
		}
	}

	_, body = get(t, h, "/api/v1/leaderboard?coverage=common&limit=100")
	var common coverageDoc
	if err := json.Unmarshal(body, &common); err != nil {
		t.Fatal(err)
	}
	if common.Filter.Coverage != "common" || len(common.Benchmarks) != 4 || len(common.Excluded) != 1 || common.Excluded[0] != last.Missing[0] ||
		common.Total != 12 {
		t.Fatalf("coverage=common: coverage %q, %d columns, excluded %v (want %v), %d rows", common.Filter.Coverage, len(common.Benchmarks),
			common.Excluded, last.Missing, common.Total)
	}
	for i, r := range common.Rows {
		if r.Partial || r.Coverage.Scored != 4 || r.Coverage.Total != 4 {
			t.Errorf("coverage=common row %d: partial %v coverage %+v", i, r.Partial, r.Coverage)
		}
	}

	res, body = get(t, h, "/api/v1/leaderboard.csv?coverage=common")
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if res.StatusCode != http.StatusOK || err != nil || len(recs) != 13 {
		t.Fatalf("CSV coverage=common: %d, %v, %d records", res.StatusCode, err, len(recs))
	}
	if strings.Contains(strings.Join(recs[0], ","), common.Excluded[0]) || recs[0][10] != "partial" || recs[1][10] != "false" {
		t.Errorf("CSV coverage=common header %v, first row %v", recs[0], recs[1])
	}

	for _, q := range []string{"coverage=some", "coverage=all,common"} {
		res, body = get(t, h, "/api/v1/leaderboard?"+q)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `\"common\"`) {
			t.Errorf("%s: %d %s, want 400 naming the values", q, res.StatusCode, body)
		}
	}
}
