package attacktest

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/leaderboard/httpapi"
)

// caller is who sends a request: the Authorization header it sends.
type caller struct {
	name string
	auth string // "" sends none
	// authed: the server must take it for a user (bob); otherwise every
	// route that needs a token must answer 401.
	authed bool
}

func (p *platform) callers() []caller {
	return []caller{
		{name: "anonymous"},
		{name: "revoked token", auth: "Bearer " + p.tokens["revoked"]},
		{name: "expired token", auth: "Bearer " + p.tokens["expired"]},
		{name: "token without Bearer", auth: p.tokens["alice"]},
		{name: "token in another scheme", auth: "Token " + p.tokens["alice"]},
		{name: "token of a disabled maintainer", auth: "Bearer " + p.tokens["disabled"]},
		{name: "bob", auth: "Bearer " + p.tokens["bob"], authed: true},
	}
}

// operation is one documented route and method of the served OpenAPI.
type operation struct {
	path      string // as documented, under /api/v1
	method    string
	responses []string // documented statuses
}

func (o operation) needsToken() bool { return slices.Contains(o.responses, "401") }

// servedOperations reads the OpenAPI document the server publishes (the
// leaderboard's merged with the submissions API).
func (p *platform) servedOperations(t *testing.T) map[string][]operation {
	t.Helper()
	status, _, body := p.do(t, newReq(t, "GET", p.api+"/api/v1/openapi.json", nil))
	if status != 200 {
		t.Fatalf("GET /api/v1/openapi.json = %d", status)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	ops := map[string][]operation{}
	for path, methods := range doc.Paths {
		for m, spec := range methods {
			m = strings.ToUpper(m)
			if !slices.Contains([]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}, m) {
				continue
			}
			var rs []string
			for code := range spec.Responses {
				rs = append(rs, code)
			}
			sort.Strings(rs)
			ops[path] = append(ops[path], operation{path: path, method: m, responses: rs})
		}
	}
	// Both APIs must be there, or the walk below walks too little.
	for _, want := range []string{"/leaderboard", "/leaderboard.csv", "/models/{hash}", "/models/{hash}/rdm/{benchmark}",
		"/benchmarks/{id}/comparisons", "/submissions", "/submissions/{id}", "/submissions/{id}/cancel", "/models/{hash}/withdraw"} {
		if _, ok := ops[want]; !ok {
			t.Fatalf("the served OpenAPI document lacks %s: %v", want, ops)
		}
	}
	return ops
}

var paramRE = regexp.MustCompile(`\{[^}]+\}`)

// instances fills a documented path's parameters with the platform's
// resources: every model (alice's and the platform's), both benchmarks,
// alice's submission. Each comes with a label for the subtest name.
func (p *platform) instances(path string) [][2]string {
	out := [][2]string{{path, path}}
	fill := func(param string, vals [][2]string) {
		var next [][2]string
		for _, o := range out {
			if !strings.Contains(o[0], param) {
				next = append(next, o)
				continue
			}
			for _, v := range vals {
				next = append(next, [2]string{strings.Replace(o[0], param, v[0], 1), strings.Replace(o[1], param, v[1], 1)})
			}
		}
		out = next
	}
	models := [][2]string{{p.aliceHash, "{alice's model}"}, {p.scored[0], "{platform's model}"}, {p.scored[1], "{hostile-named model}"}}
	benches := [][2]string{{pubBench, "{public benchmark}"}, {privBench, "{private benchmark}"}}
	fill("{hash}", models)
	fill("{benchmark}", benches)
	if strings.HasPrefix(path, "/submissions/") {
		fill("{id}", [][2]string{{p.aliceSub, "{alice's submission}"}})
	} else {
		fill("{id}", benches)
	}
	if paramRE.MatchString(out[0][0]) {
		panic("unfilled parameter in " + out[0][0])
	}
	return out
}

// body is what an attacker sends with a write: a real model upload to
// the submissions route, a metadata change elsewhere.
func (p *platform) body(t *testing.T, path, method string) ([]byte, string) {
	t.Helper()
	switch {
	case method == "GET" || method == "HEAD":
		return nil, ""
	case path == "/submissions" && method == "POST":
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		w.WriteField("name", "forged")
		w.WriteField("preprocessing", tinySpec)
		f, _ := w.CreateFormFile("model", "forged.onnx")
		f.Write(tinyModel(9))
		w.Close()
		return b.Bytes(), w.FormDataContentType()
	}
	if method == "PATCH" {
		return []byte(`{"name":"pwned","family":"pwned"}`), "application/json"
	}
	// A withdrawal's body; any other write gets it too.
	return []byte(`{"reason":"pwned"}`), "application/json"
}

// checkAnswer asserts what every answer of the API server must satisfy:
// the security headers, no CORS grant, no private byte.
func (p *platform) checkAnswer(t *testing.T, what string, h http.Header, body []byte) {
	t.Helper()
	if got := h.Get("Content-Security-Policy"); got != httpapi.ContentSecurityPolicy {
		t.Errorf("%s: Content-Security-Policy %q", what, got)
	}
	if got := h.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("%s: X-Frame-Options %q, want DENY", what, got)
	}
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options %q, want nosniff", what, got)
	}
	noCORS(t, what, h)
	p.secrets.noLeak(t, what, body)
}

// routeWalk calls every documented route, with every write method too, as
// every kind of caller. A route that needs a token answers 401 to all but
// bob; bob gets 403 on what is not his and the message names nobody;
// methods not documented are refused; nothing changes; no answer holds a
// private byte.
func routeWalk(t *testing.T, p *platform) {
	ops := p.servedOperations(t)
	paths := make([]string, 0, len(ops))
	for path := range ops {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	before := p.snapshot(t)
	for _, path := range paths {
		documented := map[string]operation{}
		for _, o := range ops[path] {
			documented[o.method] = o
		}
		if o, ok := documented["GET"]; ok && !o.needsToken() {
			documented["HEAD"] = o // every leaderboard GET answers HEAD
		}
		for _, inst := range p.instances(path) {
			for _, method := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
				o, isDoc := documented[method]
				t.Run(method+" /api/v1"+inst[1], func(t *testing.T) {
					u := p.api + "/api/v1" + inst[0]
					if path == "/submissions" && method == "GET" {
						u += "?mine"
					}
					for _, c := range p.callers() {
						if c.authed && isDoc && path == "/submissions" && method == "POST" {
							continue // bob may submit: his upload would be accepted
						}
						body, ctype := p.body(t, path, method)
						req := newReq(t, method, u, body)
						if ctype != "" {
							req.Header.Set("Content-Type", ctype)
						}
						if c.auth != "" {
							req.Header.Set("Authorization", c.auth)
						}
						if method == "OPTIONS" { // a CORS preflight from another site
							req.Header.Set("Origin", "https://evil.example")
							req.Header.Set("Access-Control-Request-Method", "DELETE")
							req.Header.Set("Access-Control-Request-Headers", "authorization")
						}
						status, h, resp := p.do(t, req)
						what := c.name + ": " + method + " " + inst[1]
						p.checkAnswer(t, what, h, resp)
						switch {
						case !isDoc:
							if status < 400 || status > 499 {
								t.Errorf("%s (undocumented) = %d %.200s, want 4xx", what, status, resp)
							}
						case o.needsToken() && !c.authed:
							if status != 401 {
								t.Errorf("%s = %d %.200s, want 401", what, status, resp)
							}
						case o.needsToken() && c.authed:
							want := 403
							if path == "/submissions" {
								want = 200 // bob's own list
							}
							if status != want {
								t.Errorf("%s = %d %.200s, want %d", what, status, resp, want)
							}
							if status == 403 && !bytes.Contains(resp, []byte("not yours")) {
								t.Errorf("%s: 403 %.200s does not say it is not yours", what, resp)
							}
							if path == "/submissions" && bytes.Contains(resp, []byte(p.aliceSub)) {
								t.Errorf("%s names alice's submission: %.300s", what, resp)
							}
						default: // a public read
							if !slices.Contains(o.responses, strconv.Itoa(status)) || status >= 500 {
								t.Errorf("%s = %d %.200s, not a documented answer %v", what, status, resp, o.responses)
							}
							if strings.Contains(inst[0], "/rdm/"+privBench) && status != 403 {
								t.Errorf("%s = %d, want 403: a private benchmark's RDMs are never served", what, status)
							}
						}
						if status == 401 || status == 403 {
							for _, u := range userNames {
								if u == "bob" && c.authed {
									continue
								}
								if bytes.Contains(bytes.ToLower(resp), []byte(u)) {
									t.Errorf("%s = %d names user %s: %.300s", what, status, u, resp)
								}
							}
						}
					}
					before = p.unchanged(t, before)
				})
			}
		}
	}
	// The walk reached real resources: their owner is let in.
	t.Run("alice reads her own submission", func(t *testing.T) {
		req := newReq(t, "GET", p.api+"/api/v1/submissions/"+p.aliceSub, nil)
		req.Header.Set("Authorization", "Bearer "+p.tokens["alice"])
		if status, _, body := p.do(t, req); status != 200 || !bytes.Contains(body, []byte(p.aliceHash)) {
			t.Errorf("alice's own submission = %d %.300s", status, body)
		}
	})
}

// pageWalk does the same for the web page's routes (not in the OpenAPI
// document): they are read-only and carry the security headers.
func pageWalk(t *testing.T, p *platform) {
	before := p.snapshot(t)
	for _, path := range []string{"/", "/models/" + p.scored[1], "/benchmarks/" + privBench, "/submissions", "/static/app.js", "/static/style.css"} {
		t.Run(path, func(t *testing.T) {
			for _, method := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
				body, ctype := p.body(t, path, method)
				req := newReq(t, method, p.api+path, body)
				if ctype != "" {
					req.Header.Set("Content-Type", ctype)
				}
				status, h, resp := p.do(t, req)
				p.checkAnswer(t, method+" "+path, h, resp)
				if method == "GET" || method == "HEAD" {
					if status != 200 {
						t.Errorf("%s %s = %d", method, path, status)
					}
				} else if status < 400 || status > 499 {
					t.Errorf("%s %s = %d, want 4xx", method, path, status)
				}
			}
			before = p.unchanged(t, before)
		})
	}
}
