package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
	"github.com/cortexbench/cortexbench/storage/objstore"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/httpapi"
	"github.com/cortexbench/cortexbench/submissions/submissionstest"
	"github.com/cortexbench/cortexbench/submissions/wire"
)

// fakeQueue records jobs; fail makes Enqueue fail.
type fakeQueue struct {
	mu   sync.Mutex
	jobs []submissions.JobSpec
	fail bool
}

func (q *fakeQueue) Enqueue(_ context.Context, jobs []submissions.JobSpec) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail {
		return errors.New("pq: connection refused to 10.0.0.7:5432") // must never reach a client
	}
	q.jobs = append(q.jobs, jobs...)
	return nil
}

type env struct {
	srv    *httptest.Server
	svc    *submissions.Service
	reg    *registry.Registry
	bucket *objstore.Memory
	queue  *fakeQueue
	tokens map[string]string // user → token
	// skew moves the service's clock forward (nanoseconds).
	skew atomic.Int64
}

func newEnv(t *testing.T, cfg submissions.Config) *env {
	t.Helper()
	return newEnvRT(t, cfg, nil)
}

// newEnvRT is newEnv whose service validates with rt (nil: structure only).
func newEnvRT(t testing.TB, cfg submissions.Config, rt onnxmodel.Runtime) *env {
	t.Helper()
	gin.SetMode(gin.TestMode)
	ctx := t.Context()
	reg, err := registry.Open(ctx, registry.Config{SQLitePath: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	if err := reg.PutBenchmark(ctx, registry.Benchmark{ID: "b1", Version: "b1-v1"}); err != nil {
		t.Fatal(err)
	}
	e := &env{reg: reg, bucket: objstore.NewMemory(), queue: &fakeQueue{}, tokens: map[string]string{}}
	now := func() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) }
	svc, err := submissions.New(cfg, submissions.Deps{Registry: reg, Models: &models.Registry{Store: e.bucket}, Queue: e.queue, Now: now, Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	for name, role := range map[string]registry.Role{"ada": registry.RoleSubmitter, "bob": registry.RoleSubmitter, "max": registry.RoleMaintainer} {
		if _, err := svc.CreateUser(ctx, name, role); err != nil {
			t.Fatal(err)
		}
		if e.tokens[name], _, err = svc.CreateToken(ctx, name, 0); err != nil {
			t.Fatal(err)
		}
	}
	e.svc = svc
	r := gin.New()
	httpapi.Register(r, svc, nil)
	e.srv = httptest.NewServer(r)
	t.Cleanup(e.srv.Close)
	return e
}

// do sends a request as user ("" for none) and decodes the JSON answer
// into out (when not nil); it returns the status and the error body.
func (e *env) do(t *testing.T, user, method, path, ctype string, body io.Reader, out any) (int, wire.ErrorBody) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if user != "" {
		tok, ok := e.tokens[user]
		if !ok {
			tok = user // a made-up token
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var eb wire.Error
	if resp.StatusCode >= 300 {
		if err := json.Unmarshal(data, &eb); err != nil {
			t.Fatalf("%s %s: %d with a non-JSON body %q", method, path, resp.StatusCode, data)
		}
	} else if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, eb.Error
}

func form(t *testing.T, fields map[string]string, file []byte) (string, io.Reader) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if file != nil {
		fw, _ := mw.CreateFormFile(wire.FieldFile, "model.onnx")
		fw.Write(file)
	}
	mw.Close()
	return mw.FormDataContentType(), &buf
}

func (e *env) submit(t *testing.T, user string, name string, file []byte) (int, wire.ErrorBody, wire.Accepted) {
	t.Helper()
	ct, body := form(t, map[string]string{wire.FieldName: name, wire.FieldPreprocessing: submissionstest.Spec}, file)
	var acc wire.Accepted
	st, eb := e.do(t, user, http.MethodPost, "/api/v1/submissions", ct, body, &acc)
	return st, eb, acc
}

// stored reports whether anything is in the bucket or the database's
// models and submissions.
func (e *env) stored(t *testing.T) string {
	t.Helper()
	objs, err := objstore.ListAll(t.Context(), e.bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := e.reg.ListModels(t.Context(), registry.ModelFilter{})
	subs, _ := e.reg.ListSubmissions(t.Context(), "", 0)
	if len(objs)+len(ms)+len(subs) > 0 {
		return strings.TrimSpace(strings.Repeat("objects ", min(len(objs), 1)) + strings.Repeat("models ", min(len(ms), 1)) + strings.Repeat("submissions", min(len(subs), 1)))
	}
	return ""
}

func TestAuth(t *testing.T) {
	e := newEnv(t, submissions.Config{})
	for _, user := range []string{"", "cbt_not-a-real-token"} {
		st, eb, _ := e.submit(t, user, "tiny", submissionstest.TinyCNN(1))
		if st != http.StatusUnauthorized || eb.Code != "unauthorized" {
			t.Errorf("token %q: %d %+v, want 401", user, st, eb)
		}
		if st, _ := e.do(t, user, http.MethodGet, "/api/v1/submissions?mine", "", nil, nil); st != http.StatusUnauthorized {
			t.Errorf("list with token %q: %d, want 401", user, st)
		}
	}
	if s := e.stored(t); s != "" {
		t.Errorf("unauthorised submissions stored %s", s)
	}
}

// Issue 14 finding 7: a token without the Bearer scheme is refused with a
// message saying how to send it, even when the token itself is valid.
func TestBearerSchemeRequired(t *testing.T) {
	e := newEnv(t, submissions.Config{})
	for _, h := range []string{e.tokens["ada"], "Token " + e.tokens["ada"], "Basic " + e.tokens["ada"]} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api/v1/submissions?mine", nil)
		req.Header.Set("Authorization", h)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var eb wire.Error
		json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(eb.Error.Message, "Authorization: Bearer <token>") {
			t.Errorf("Authorization %.12q...: %d %+v, want 401 saying to send Authorization: Bearer <token>", h, resp.StatusCode, eb.Error)
		}
	}
	for _, scheme := range []string{"Bearer ", "bearer "} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api/v1/submissions?mine", nil)
		req.Header.Set("Authorization", scheme+e.tokens["ada"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%q scheme: %d, want 200", scheme, resp.StatusCode)
		}
	}
}

func TestSubmitStatusAndOwnership(t *testing.T) {
	e := newEnv(t, submissions.Config{})
	st, eb, acc := e.submit(t, "ada", "tiny", submissionstest.TinyCNN(1))
	if st != http.StatusAccepted || acc.ID == "" || acc.Status.State != "queued" || acc.Status.Benchmarks != 1 {
		t.Fatalf("submit: %d %+v %+v", st, eb, acc)
	}
	if len(e.queue.jobs) != 1 || e.queue.jobs[0].ModelHash != acc.ModelHash || e.queue.jobs[0].BenchmarkVersion != "b1-v1" {
		t.Fatalf("queued %+v", e.queue.jobs)
	}
	if acc.Status.Estimate.Seconds <= 0 || acc.Status.Estimate.Bytes <= 0 || acc.Status.Estimate.Formula == "" {
		t.Errorf("estimate %+v", acc.Status.Estimate)
	}
	if ok, _ := e.bucket.Exists(t.Context(), models.FileKey(e.queue.jobs[0].FileHash)); !ok {
		t.Error("model file not stored")
	}
	var status wire.Status
	if st, eb := e.do(t, "ada", http.MethodGet, "/api/v1/submissions/"+acc.ID, "", nil, &status); st != 200 || status.ID != acc.ID {
		t.Fatalf("status: %d %+v", st, eb)
	}
	if st, eb := e.do(t, "bob", http.MethodGet, "/api/v1/submissions/"+acc.ID, "", nil, nil); st != http.StatusForbidden || strings.Contains(strings.ReplaceAll(eb.Message, acc.ID, ""), "ada") || !strings.Contains(eb.Message, "not yours") {
		t.Errorf("bob reading ada's submission: %d %q, want 403 saying it is not yours without naming the owner", st, eb.Message)
	}
	if st, _ := e.do(t, "ada", http.MethodGet, "/api/v1/submissions/sub_nope", "", nil, nil); st != http.StatusNotFound {
		t.Errorf("missing submission: %d, want 404", st)
	}
	var mine wire.StatusList
	if st, _ := e.do(t, "bob", http.MethodGet, "/api/v1/submissions?mine", "", nil, &mine); st != 200 || len(mine.Submissions) != 0 {
		t.Errorf("bob's list: %d %+v", st, mine)
	}
	if st, _ := e.do(t, "ada", http.MethodGet, "/api/v1/submissions?mine", "", nil, &mine); st != 200 || len(mine.Submissions) != 1 {
		t.Errorf("ada's list: %d %+v", st, mine)
	}

	// A second user may neither change nor withdraw ada's model.
	model := "/api/v1/models/" + acc.ModelHash
	for _, req := range []struct{ method, path, body string }{
		{http.MethodPatch, model, `{"name":"stolen"}`},
		{http.MethodDelete, model, ""},
		{http.MethodPost, model + "/withdraw", `{"reason":"mine now"}`},
	} {
		st, eb := e.do(t, "bob", req.method, req.path, "application/json", strings.NewReader(req.body), nil)
		if st != http.StatusForbidden || eb.Code != "forbidden" {
			t.Errorf("bob %s %s: %d %+v, want 403", req.method, req.path, st, eb)
		}
		if strings.Contains(strings.ReplaceAll(eb.Message, acc.ModelHash, ""), "ada") || !strings.Contains(eb.Message, "not yours") {
			t.Errorf("bob %s %s: message %q names the owner or does not say it is not yours", req.method, req.path, eb.Message)
		}
	}
	if m, _ := e.reg.GetModel(t.Context(), acc.ModelHash); m.Name != "tiny" {
		t.Errorf("name changed to %q by a forbidden request", m.Name)
	}
	if w, _ := e.reg.Withdrawn(t.Context(), acc.ModelHash); w {
		t.Error("withdrawn by a forbidden request")
	}
	// The owner may change it; a maintainer may withdraw it.
	var m wire.Model
	if st, eb := e.do(t, "ada", http.MethodPatch, model, "application/json", strings.NewReader(`{"family":"cnn"}`), &m); st != 200 || m.Family != "cnn" || m.Name != "tiny" {
		t.Errorf("owner change: %d %+v %+v", st, eb, m)
	}
	if st, eb := e.do(t, "max", http.MethodDelete, model, "", nil, nil); st != 200 {
		t.Errorf("maintainer withdrawal: %d %+v", st, eb)
	}
	if w, _ := e.reg.Withdrawn(t.Context(), acc.ModelHash); !w {
		t.Error("not withdrawn")
	}
	if st, _ := e.do(t, "ada", http.MethodDelete, "/api/v1/models/"+strings.Repeat("0", 64), "", nil, nil); st != http.StatusNotFound {
		t.Errorf("withdrawing a missing model: %d, want 404", st)
	}
}

func TestDailyLimit(t *testing.T) {
	e := newEnv(t, submissions.Config{DailyLimit: 2})
	for i := range 3 {
		st, eb, _ := e.submit(t, "ada", "tiny", submissionstest.TinyCNN(uint64(i)))
		want := http.StatusAccepted
		if i == 2 {
			want = http.StatusTooManyRequests
		}
		if st != want {
			t.Fatalf("submission %d: %d %+v, want %d", i+1, st, eb, want)
		}
		if i == 2 && !strings.Contains(eb.Message, "daily limit of 2") {
			t.Errorf("429 message %q", eb.Message)
		}
	}
	// The limit is per user.
	if st, eb, _ := e.submit(t, "bob", "tiny", submissionstest.TinyCNN(9)); st != http.StatusAccepted {
		t.Errorf("bob: %d %+v", st, eb)
	}
}

// Every bad model of the corpus gets a 4xx naming the problem, and leaves
// nothing in the bucket or the database.
func TestBadModels(t *testing.T) {
	e := newEnv(t, submissions.Config{MaxFileBytes: 64 << 10})
	want := map[string]string{
		"truncated": "not an ONNX model", "random bytes": "not an ONNX model", "text file": "not an ONNX model",
		"custom domain": "com.example::FancyOp", "external data": "external data", "rank 2 input": "rank 2",
		"absurd input": "1099511627776",
	}
	for name, data := range submissionstest.Bad() {
		t.Run(name, func(t *testing.T) {
			st, eb, _ := e.submit(t, "ada", "bad", data)
			if st < 400 || st >= 500 {
				t.Fatalf("%d, want 4xx", st)
			}
			var all strings.Builder
			for _, p := range eb.Problems {
				all.WriteString(p.Kind + ": " + p.Message + "\n")
			}
			if !strings.Contains(all.String(), want[name]) {
				t.Errorf("problems %q do not mention %q", all.String(), want[name])
			}
			if s := e.stored(t); s != "" {
				t.Errorf("refused model left %s", s)
			}
		})
	}
	// Too large: 413 before reading it all.
	big := append(submissionstest.TinyCNN(1), make([]byte, 70<<10)...)
	if st, eb, _ := e.submit(t, "ada", "big", big); st != http.StatusRequestEntityTooLarge {
		t.Errorf("too large: %d %+v", st, eb)
	}
	// Every problem is listed at once: metadata and file.
	ct, body := form(t, map[string]string{wire.FieldName: strings.Repeat("n", 200), wire.FieldPreprocessing: submissionstest.Spec}, submissionstest.Bad()["custom domain"])
	st, eb := e.do(t, "ada", http.MethodPost, "/api/v1/submissions", ct, body, nil)
	fields := map[string]bool{}
	for _, p := range eb.Problems {
		fields[p.Field] = true
	}
	if st != http.StatusBadRequest || !fields["name"] || !fields["file"] {
		t.Errorf("metadata + model problems: %d %+v", st, eb)
	}
	// A spec that does not fit the model is refused too.
	ct, body = form(t, map[string]string{wire.FieldName: "tiny", wire.FieldPreprocessing: "imagenet_nchw"}, submissionstest.TinyCNN(1))
	if st, eb := e.do(t, "ada", http.MethodPost, "/api/v1/submissions", ct, body, nil); st != http.StatusBadRequest || len(eb.Problems) == 0 || eb.Problems[0].Field != "preprocessing" {
		t.Errorf("mismatched spec: %d %+v", st, eb)
	}
	if s := e.stored(t); s != "" {
		t.Errorf("refused submissions left %s", s)
	}
	if n, _ := e.reg.CountSubmissions(t.Context(), "ada", registry.Day(timeNow())); n != 0 {
		t.Errorf("refused submissions counted against the daily limit: %d", n)
	}
}

// An internal failure is answered "internal error", without its details.
func TestInternalErrorHidden(t *testing.T) {
	e := newEnv(t, submissions.Config{})
	e.queue.fail = true
	st, eb, _ := e.submit(t, "ada", "tiny", submissionstest.TinyCNN(1))
	if st != http.StatusInternalServerError || eb.Message != "internal error" || eb.Code != "internal" {
		t.Fatalf("%d %+v", st, eb)
	}
	// Queuing failed inside the transaction that records the submission:
	// nothing is recorded, nothing counts against the daily limit (issue
	// 15, finding 1).
	subs, _ := e.reg.ListSubmissions(t.Context(), "ada", 0)
	if n, _ := e.reg.CountSubmissions(t.Context(), "ada", registry.Day(timeNow())); len(subs) != 0 || n != 0 {
		t.Fatalf("a submission that could not be queued left %+v, counted %d", subs, n)
	}
}

func timeNow() time.Time { return time.Now() }

// The routes compose with another handler (the leaderboard's) on a
// ServeMux: the submissions requests reach NewHandler, the rest the other.
func TestPatternsCompose(t *testing.T) {
	e := newEnv(t, submissions.Config{})
	mux := http.NewServeMux()
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	h := httpapi.NewHandler(e.svc, nil)
	for _, p := range httpapi.Patterns() {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	hash := strings.Repeat("a", 64)
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/api/v1/models/" + hash, http.StatusTeapot},
		{http.MethodGet, "/api/v1/leaderboard", http.StatusTeapot},
		{http.MethodDelete, "/api/v1/models/" + hash, http.StatusUnauthorized},
		{http.MethodPost, "/api/v1/models/" + hash + "/withdraw", http.StatusUnauthorized},
		{http.MethodPatch, "/api/v1/models/" + hash, http.StatusUnauthorized},
		{http.MethodGet, "/api/v1/submissions/sub_x", http.StatusUnauthorized},
		{http.MethodGet, "/api/v1/submissions?mine", http.StatusUnauthorized},
		{http.MethodPost, "/api/v1/submissions", http.StatusUnauthorized},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
}

// Only maintainers pass RequireMaintainer (the guard of benchmark routes).
func TestRequireMaintainer(t *testing.T) {
	e := newEnv(t, submissions.Config{})
	r := gin.New()
	r.POST("/api/v1/benchmarks", httpapi.Authenticate(e.svc, nil), httpapi.RequireMaintainer(nil), func(c *gin.Context) {
		u, _ := httpapi.User(c)
		c.JSON(http.StatusCreated, gin.H{"by": u.Name})
	})
	srv := httptest.NewServer(r)
	defer srv.Close()
	e.srv = srv
	for user, want := range map[string]int{"": http.StatusUnauthorized, "ada": http.StatusForbidden, "max": http.StatusCreated} {
		if st, eb := e.do(t, user, http.MethodPost, "/api/v1/benchmarks", "", nil, nil); st != want {
			t.Errorf("%q: %d %+v, want %d", user, st, eb, want)
		}
	}
}

// openapi.json documents exactly the routes Register mounts, and Patterns
// names them all.
func TestOpenAPIAndPatterns(t *testing.T) {
	var doc struct {
		OpenAPI string                         `json:"openapi"`
		Paths   map[string]map[string]struct{} `json:"paths"`
	}
	if err := json.Unmarshal(httpapi.OpenAPI(), &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q: %v", doc.OpenAPI, err)
	}
	e := newEnv(t, submissions.Config{})
	r := gin.New()
	httpapi.Register(r, e.svc, nil)
	patterns := map[string]bool{}
	for _, p := range httpapi.Patterns() {
		patterns[p] = true
	}
	documented := 0
	for _, op := range doc.Paths {
		documented += len(op)
	}
	routes := r.Routes()
	if len(routes) != documented || len(routes) != len(patterns) {
		t.Errorf("%d routes, %d documented operations, %d patterns", len(routes), documented, len(patterns))
	}
	for _, rt := range routes {
		rel := strings.TrimPrefix(rt.Path, "/api/v1")
		for _, name := range []string{"id", "hash"} {
			rel = strings.ReplaceAll(rel, ":"+name, "{"+name+"}")
		}
		if _, ok := doc.Paths[rel][strings.ToLower(rt.Method)]; !ok {
			t.Errorf("route %s %s is not in openapi.json", rt.Method, rt.Path)
		}
		if !patterns[rt.Method+" /api/v1"+rel] {
			t.Errorf("route %s %s is not in Patterns()", rt.Method, rt.Path)
		}
	}
}

// authRoutes are every route Register mounts (all need a token).
var authRoutes = []struct{ method, path string }{
	{http.MethodPost, "/api/v1/submissions"},
	{http.MethodGet, "/api/v1/submissions"},
	{http.MethodGet, "/api/v1/submissions/x"},
	{http.MethodPatch, "/api/v1/models/" + strings.Repeat("a", 64)},
	{http.MethodDelete, "/api/v1/models/" + strings.Repeat("a", 64)},
	{http.MethodPost, "/api/v1/models/" + strings.Repeat("a", 64) + "/withdraw"},
}

// wantAuth checks that user's token gets 401 (or not) on every route.
func (e *env) wantAuth(t *testing.T, user string, unauthorized bool) {
	t.Helper()
	for _, r := range authRoutes {
		st, eb := e.do(t, user, r.method, r.path, "", nil, nil)
		if (st == http.StatusUnauthorized) != unauthorized {
			t.Errorf("%s: %s %s: %d %+v, want 401: %v", user, r.method, r.path, st, eb, unauthorized)
		}
	}
}

// A revoked token, an expired one and any token of a disabled user get
// 401 on every route from the next request on; a role change applies at
// once too.
func TestTokenRevokeExpireDisableRole(t *testing.T) {
	e := newEnv(t, submissions.Config{})
	ctx := t.Context()
	var err error
	var second submissions.Token
	if e.tokens["ada2"], second, err = e.svc.CreateToken(ctx, "ada", 0); err != nil {
		t.Fatal(err)
	}
	if d := time.Until(second.ExpiresAt) - submissions.DefaultTokenLifetime; d > time.Minute || d < -time.Minute {
		t.Errorf("default expiry %v", second.ExpiresAt)
	}
	e.wantAuth(t, "ada", false)
	e.wantAuth(t, "ada2", false)

	// Revoke ada's first token: it fails at once, her second still works.
	ts, err := e.svc.ListTokens(ctx, "ada")
	if err != nil || len(ts) != 2 {
		t.Fatalf("ListTokens = %+v, %v", ts, err)
	}
	first := ts[0]
	if first.ID == second.ID {
		first = ts[1]
	}
	if first.LastUsedAt.IsZero() {
		t.Error("last use of a used token not recorded")
	}
	if _, err := e.svc.RevokeToken(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	e.wantAuth(t, "ada", true)
	if _, eb := e.do(t, "ada", http.MethodGet, "/api/v1/submissions", "", nil, nil); eb.Code != "unauthorized" || !strings.Contains(eb.Message, "revoked") {
		t.Errorf("revoked: %+v", eb)
	}
	e.wantAuth(t, "ada2", false)

	// Disable ada: her remaining token fails at once; enabling restores it.
	if _, err := e.svc.SetUserDisabled(ctx, "ada", true); err != nil {
		t.Fatal(err)
	}
	e.wantAuth(t, "ada2", true)
	e.wantAuth(t, "bob", false)
	if _, err := e.svc.SetUserDisabled(ctx, "ada", false); err != nil {
		t.Fatal(err)
	}
	e.wantAuth(t, "ada2", false)
	e.wantAuth(t, "ada", true) // still revoked

	// Expiry: a one-hour token works now and not once the clock passes it.
	if e.tokens["short"], _, err = e.svc.CreateToken(ctx, "bob", time.Hour); err != nil {
		t.Fatal(err)
	}
	e.wantAuth(t, "short", false)
	e.skew.Store(int64(time.Hour + time.Second))
	e.wantAuth(t, "short", true)
	if _, eb := e.do(t, "short", http.MethodGet, "/api/v1/submissions", "", nil, nil); !strings.Contains(eb.Message, "expired") {
		t.Errorf("expired: %+v", eb)
	}
	e.wantAuth(t, "bob", false) // 90 days
	e.skew.Store(int64(submissions.DefaultTokenLifetime + time.Second))
	e.wantAuth(t, "bob", true)
	e.skew.Store(0)

	// Lifetimes out of range are refused.
	for _, d := range []time.Duration{-time.Hour, submissions.MaxTokenLifetime + time.Hour} {
		if _, _, err := e.svc.CreateToken(ctx, "bob", d); err == nil {
			t.Errorf("lifetime %v accepted", d)
		}
	}

	// Role change: applies to the next request.
	r := gin.New()
	r.POST("/api/v1/benchmarks", httpapi.Authenticate(e.svc, nil), httpapi.RequireMaintainer(nil), func(c *gin.Context) {
		c.JSON(http.StatusCreated, gin.H{})
	})
	srv := httptest.NewServer(r)
	defer srv.Close()
	e.srv = srv
	post := func(user string) int {
		st, _ := e.do(t, user, http.MethodPost, "/api/v1/benchmarks", "", nil, nil)
		return st
	}
	if st := post("bob"); st != http.StatusForbidden {
		t.Fatalf("bob as submitter: %d", st)
	}
	if _, err := e.svc.SetUserRole(ctx, "bob", submissions.RoleMaintainer); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetUserRole(ctx, "max", submissions.RoleSubmitter); err != nil {
		t.Fatal(err)
	}
	if st := post("bob"); st != http.StatusCreated {
		t.Errorf("bob made maintainer: %d", st)
	}
	if st := post("max"); st != http.StatusForbidden {
		t.Errorf("max made submitter: %d", st)
	}
	if _, err := e.svc.SetUserDisabled(ctx, "bob", true); err != nil {
		t.Fatal(err)
	}
	if st := post("bob"); st != http.StatusUnauthorized {
		t.Errorf("disabled maintainer: %d", st)
	}
}

// TestBombsRefusedThroughTheAPI replays issue 14's validation bombs as
// uploads to the submissions server on loopback: each is refused with a
// 400 that names what is over its limit, and nothing is stored.
func TestBombsRefusedThroughTheAPI(t *testing.T) {
	e := newEnv(t, submissions.Config{MaxFileBytes: 32 << 20})
	for _, b := range onnxtest.Bombs() {
		if b.Msg == "" {
			continue // accepted by design (see onnxtest.Bombs)
		}
		t.Run(b.Name, func(t *testing.T) {
			st, eb, _ := e.submit(t, "ada", "bomb", b.Data)
			if st != http.StatusBadRequest {
				t.Fatalf("%d %+v, want 400", st, eb)
			}
			var all strings.Builder
			for _, p := range eb.Problems {
				all.WriteString(p.Message + "\n")
			}
			if !strings.Contains(all.String(), b.Msg) {
				t.Errorf("problems %q do not mention %q", all.String(), b.Msg)
			}
			if s := e.stored(t); s != "" {
				t.Errorf("refused bomb left %s", s)
			}
		})
	}
}
