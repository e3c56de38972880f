package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/internal/faulttest"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions/submissionstest"
	"github.com/cortexbench/cortexbench/submissions/wire"
)

// A PostgreSQL outage under a running server (issue 15, finding 6): the
// real 'serve' on a throwaway cluster that the test stops and starts.
// While it is down, every submissions route (token check, list, status,
// submit) is answered 503 with Retry-After and a message to retry, and the
// leaderboard (API, CSV, page) keeps serving its last good copy with 200;
// once it is up again everything works, new submissions and scores
// included, without a restart of the server.
func TestPostgresOutageAnswered503(t *testing.T) {
	pg := faulttest.StartPostgres(t)
	dsn := pg.DSN()
	data, state := t.TempDir(), t.TempDir()
	store := filepath.Join(state, "objects")
	names := []string{"cat.png", "dog.png", "car.png", "cup.png", "tree.png", "face.png"}
	writeBenchDataset(t, data, fmt.Sprintf(benchMaintainerManifest, "outage.IT", "Outage IT", smallHeldOut, "outage"), names, 3, benchMaintainerRDM)
	if _, stderr, err := benchRun(t, "benchmarks", "add", "--store", store, filepath.Join(data, "manifest.yaml")); err != nil {
		t.Fatal(err, stderr)
	}
	pgFlags := []string{"--store", store, "--postgres", dsn}
	if _, stderr, err := benchRun(t, "users", "add", "ada", "--role", "submitter", "--postgres", dsn); err != nil {
		t.Fatal(err, stderr)
	}
	out, stderr, err := benchRun(t, "tokens", "create", "--user", "ada", "--json", "--postgres", dsn)
	if err != nil {
		t.Fatal(err, stderr)
	}
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(out), &tok); err != nil {
		t.Fatal(err, out)
	}

	// The server, exactly as 'cortexbench serve --postgres' runs.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		env := &Env{Stdout: logs, Stderr: logs, Getenv: func(string) string { return "" }}
		done <- runServe(ctx, env, append([]string{"--addr", addr, "--no-workers", "--refresh", "300ms"}, pgFlags...))
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, logs.String())
		}
	}()
	base := "http://" + addr
	req := func(method, path string, body io.Reader, ctype string) (*http.Response, string) {
		t.Helper()
		r, _ := http.NewRequest(method, base+path, body)
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		if strings.Contains(path, "submissions") {
			r.Header.Set("Authorization", "Bearer "+tok.Token)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for i := 0; ; i++ {
		if r, err := http.Get(base + "/api/v1/benchmarks"); err == nil {
			r.Body.Close()
			break
		}
		if i > 100 {
			t.Fatalf("server did not start:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A score in the database, and a submission, so the leaderboard and the
	// status routes have something to show.
	db, err := registry.Open(t.Context(), registry.Config{PostgresDSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bs, err := db.ListBenchmarks(t.Context(), registry.BenchmarkFilter{LatestOnly: true})
	if err != nil || len(bs) != 1 {
		t.Fatalf("benchmarks in the registry: %+v %v", bs, err)
	}
	putScore := func(name string, raw float64) error {
		hash := fmt.Sprintf("%064x", len(name)*1000+int(raw*100))
		if err := db.PutModel(t.Context(), registry.Model{Hash: hash, File: hash, Name: name, Owner: "ada"}); err != nil {
			return err
		}
		_, _, err := db.PutScore(t.Context(), scoring.Score{ModelHash: hash, ModelName: name, BenchmarkID: bs[0].ID,
			BenchmarkVersion: bs[0].Version, ScorerVersion: scoring.ScorerVersion, Raw: raw, Ceiling: 0.8, Ceiled: raw / 0.8,
			SE: 0.01, CILow: raw - 0.02, CIHigh: raw + 0.02, Layer: "L001.Conv", Selection: "held-out splits", Candidates: "all"})
		return err
	}
	if err := putScore("before-outage", 0.3); err != nil {
		t.Fatal(err)
	}
	submit := func(seed uint64) (*http.Response, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField(wire.FieldName, "tiny")
		mw.WriteField(wire.FieldPreprocessing, submissionstest.Spec)
		fw, _ := mw.CreateFormFile(wire.FieldFile, "tiny.onnx")
		fw.Write(submissionstest.TinyCNN(seed))
		mw.Close()
		return req(http.MethodPost, "/api/v1/submissions", &buf, mw.FormDataContentType())
	}
	resp, body := submit(4)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("submit while up: %d %s", resp.StatusCode, body)
	}
	var acc wire.Accepted
	json.Unmarshal([]byte(body), &acc)
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 20s\n%s", what, logs.String())
			}
		}
	}
	board := func() (int, string) {
		resp, body := req(http.MethodGet, "/api/v1/leaderboard", nil, "")
		return resp.StatusCode, body
	}
	waitFor("the score on the leaderboard", func() bool { st, b := board(); return st == 200 && strings.Contains(b, "before-outage") })
	_, goodBoard := board()
	csvResp, goodCSV := req(http.MethodGet, "/api/v1/leaderboard.csv", nil, "")
	if csvResp.StatusCode != 200 {
		t.Fatalf("csv: %d %s", csvResp.StatusCode, goodCSV)
	}

	pg.Stop()
	down := time.Now()
	// Let a refresh fail, so the board served below is the kept copy.
	waitFor("two failed refreshes", func() bool { return strings.Count(logs.String(), "leaderboard refresh:") >= 2 })
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/submissions?mine"},
		{http.MethodGet, "/api/v1/submissions/" + acc.ID},
		{http.MethodPost, "/api/v1/submissions"},
	} {
		var resp *http.Response
		var body string
		if c.method == http.MethodPost {
			resp, body = submit(5)
		} else {
			resp, body = req(c.method, c.path, nil, "")
		}
		var eb wire.Error
		json.Unmarshal([]byte(body), &eb)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || eb.Error.Code != "unavailable" ||
			!strings.Contains(eb.Error.Message, "Retry") {
			t.Errorf("%s %s with PostgreSQL down: %d Retry-After %q %s", c.method, c.path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		if strings.Contains(body, "127.0.0.1") || strings.Contains(body, "dial") {
			t.Errorf("%s %s: the answer leaks details: %s", c.method, c.path, body)
		}
	}
	if st, b := board(); st != 200 || b != goodBoard {
		t.Errorf("leaderboard with PostgreSQL down: %d, same copy %v", st, b == goodBoard)
	}
	if resp, b := req(http.MethodGet, "/api/v1/leaderboard.csv", nil, ""); resp.StatusCode != 200 || b != goodCSV {
		t.Errorf("leaderboard CSV with PostgreSQL down: %d", resp.StatusCode)
	}
	if resp, b := req(http.MethodGet, "/", nil, ""); resp.StatusCode != 200 || !strings.Contains(b, "<html") {
		t.Errorf("leaderboard page with PostgreSQL down: %d", resp.StatusCode)
	}
	if !strings.Contains(logs.String(), "unavailable") {
		t.Errorf("the server's log does not record the outage:\n%s", logs.String())
	}

	pg.Start()
	t.Logf("PostgreSQL down for %s", time.Since(down).Round(time.Millisecond))
	waitFor("submissions after the restart", func() bool {
		resp, _ := req(http.MethodGet, "/api/v1/submissions?mine", nil, "")
		return resp.StatusCode == 200
	})
	if resp, body := req(http.MethodGet, "/api/v1/submissions/"+acc.ID, nil, ""); resp.StatusCode != 200 {
		t.Errorf("status after the restart: %d %s", resp.StatusCode, body)
	}
	waitFor("a submission accepted after the restart", func() bool {
		resp, _ := submit(5)
		return resp.StatusCode == http.StatusAccepted
	})
	// The test's own pool also has connections PostgreSQL closed: the
	// first use of each fails, as it does once in the server (503).
	waitFor("a score stored after the restart", func() bool { return putScore("after-outage", 0.4) == nil })
	waitFor("a new score on the leaderboard after the restart", func() bool {
		st, b := board()
		return st == 200 && strings.Contains(b, "after-outage") && strings.Contains(b, "before-outage")
	})
}
