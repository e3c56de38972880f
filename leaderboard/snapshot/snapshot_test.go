package snapshot_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/lbtest"
	"github.com/cortexbench/cortexbench/leaderboard/snapshot"
)

// memWriter is an in-memory SnapshotWriter.
type memWriter struct {
	mu      sync.Mutex
	objects map[string][]byte
	order   []string
	failOn  string
}

func (w *memWriter) Put(_ context.Context, key string, r io.Reader) error {
	if key == w.failOn {
		return errors.New("disk full")
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.objects[key] = b
	w.order = append(w.order, key)
	return nil
}

func board(t *testing.T) *leaderboard.Leaderboard {
	t.Helper()
	ix, err := leaderboard.Load(context.Background(), lbtest.Synthetic(12, 5, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	return ix.Rank(leaderboard.Filter{})
}

func TestPublishWritesVersionedThenLatest(t *testing.T) {
	lb := board(t)
	w := &memWriter{objects: make(map[string][]byte)}
	at := time.Date(2026, 11, 26, 6, 30, 5, 0, time.FixedZone("CET", 3600))
	keys, err := snapshot.Publish(context.Background(), w, lb, at)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^leaderboard/snapshots/20261126T053005Z-[0-9a-f]{12}\.json$`)
	if !re.MatchString(keys.JSON) || keys.CSV != strings.TrimSuffix(keys.JSON, ".json")+".csv" {
		t.Errorf("keys %+v", keys)
	}
	want := []string{keys.JSON, keys.CSV, snapshot.LatestJSON, snapshot.LatestCSV}
	if strings.Join(w.order, " ") != strings.Join(want, " ") {
		t.Errorf("write order %v, want %v (versioned before latest)", w.order, want)
	}
	if !bytes.Equal(w.objects[keys.JSON], w.objects[snapshot.LatestJSON]) || !bytes.Equal(w.objects[keys.CSV], w.objects[snapshot.LatestCSV]) {
		t.Error("latest differs from the versioned snapshot")
	}
	var doc struct {
		Rules struct{ Aggregation string }
		Total int
		Rows  []struct{ Rank int }
	}
	if err := json.Unmarshal(w.objects[snapshot.LatestJSON], &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Total != len(lb.Rows) || len(doc.Rows) != len(lb.Rows) || doc.Rules.Aggregation != leaderboard.AggregationRule {
		t.Errorf("json snapshot: total %d rows %d, want all %d, with the rule", doc.Total, len(doc.Rows), len(lb.Rows))
	}
	recs, err := csv.NewReader(bytes.NewReader(w.objects[snapshot.LatestCSV])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(lb.Rows)+1 {
		t.Errorf("csv has %d records, want header + %d", len(recs), len(lb.Rows))
	}
}

func TestPublishFailureLeavesLatestUntouched(t *testing.T) {
	w := &memWriter{objects: make(map[string][]byte), failOn: "fail"}
	lb := board(t)
	keys, err := snapshot.Publish(context.Background(), w, lb, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	w.failOn = keys.CSV // the same content and time give the same keys
	w.objects = make(map[string][]byte)
	if _, err := snapshot.Publish(context.Background(), w, lb, time.Unix(0, 0)); err == nil {
		t.Fatal("no error from a failing writer")
	}
	if _, ok := w.objects[snapshot.LatestJSON]; ok {
		t.Error("latest written although a versioned object failed")
	}
}

// Issue 14 finding 5: the published CSV neutralises a formula-like model
// name and family, and keeps negative scores numeric.
func TestPublishCSVNeutralisesFormulas(t *testing.T) {
	ix, err := leaderboard.Load(context.Background(), lbtest.WithEvilModel(6, 3, 1))
	if err != nil {
		t.Fatal(err)
	}
	w := &memWriter{objects: make(map[string][]byte)}
	if _, err := snapshot.Publish(context.Background(), w, ix.Rank(leaderboard.Filter{}), time.Now()); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(w.objects[snapshot.LatestCSV])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	found, negative := false, false
	for _, r := range recs[1:] {
		if r[2] == "'"+lbtest.EvilName && r[3] == "'-cmd" {
			found = true
		}
		for _, c := range r {
			if c != "" && strings.ContainsRune("=+@\t\r", rune(c[0])) {
				t.Errorf("cell %q starts a formula", c)
			}
			if strings.HasPrefix(c, "-") {
				negative = true
			}
		}
	}
	if !found || !negative {
		t.Errorf("neutralised evil row found %v, negative number kept %v", found, negative)
	}
}
