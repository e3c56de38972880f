package attacktest

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/cortexbench/cortexbench/storage/objstore"
	"github.com/cortexbench/cortexbench/storage/s3"
)

// do sends req and returns the status, headers and body.
func (p *platform) do(t *testing.T, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	resp, err := p.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, resp.Header, body
}

func newReq(t *testing.T, method, u string, body []byte) *http.Request {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// s3URL is the endpoint's URL of bucket/key ("" key: the bucket).
func (p *platform) s3URL(bucket, key string) string {
	u := p.s3 + "/" + bucket
	if key != "" {
		u += "/" + (&url.URL{Path: key}).EscapedPath()
	}
	return u
}

// sign signs req as the AWS SDK signs S3 requests, with secret sk, at at.
func sign(t *testing.T, req *http.Request, ak, sk string, body []byte, at time.Time) {
	t.Helper()
	h := sha(body)
	req.Header.Set("X-Amz-Content-Sha256", h)
	err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).
		SignHTTP(t.Context(), aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk}, req, h, "s3", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
}

// bucket is the platform's own signed client of bucket name.
func (p *platform) bucket(t *testing.T, name string) *s3.Bucket {
	t.Helper()
	b, err := s3.New(t.Context(), s3.Config{Endpoint: p.s3, Bucket: name, PathStyle: true, AccessKey: p.ak, SecretKey: p.sk, MaxRetries: -1}.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func listAll(t *testing.T, b *s3.Bucket) []string {
	t.Helper()
	var keys []string
	opts := objstore.ListOptions{Limit: 1000}
	for {
		page, err := b.List(t.Context(), opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Objects {
			keys = append(keys, o.Key)
		}
		if page.Next == "" {
			return keys
		}
		opts.After = page.Next
	}
}

func noCORS(t *testing.T, what string, h http.Header) {
	t.Helper()
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			t.Errorf("%s: answer carries CORS header %s: %v", what, k, h[k])
		}
	}
}

// s3Attacks replays finding 1 against the embedded endpoint of the
// running server: each request must be refused with its S3 error, answer
// no CORS header and no private byte, and change nothing.
func s3Attacks(t *testing.T, p *platform) {
	priv := p.bucket(t, p.priv)
	var entryKey string
	for _, k := range listAll(t, priv) {
		if strings.HasPrefix(k, "benchmarks/entries/"+privBench+"/") {
			entryKey = k
		}
	}
	rdmKey, stimKey, modelKey := p.privRDMKey, p.privStimKey, "models/"+p.files[0]+".onnx"
	// The keys are the real ones: signed, each is there.
	for _, k := range []string{entryKey, rdmKey, stimKey, modelKey} {
		rc, err := priv.Get(t.Context(), k)
		if err != nil {
			t.Fatalf("signed GET of %q: %v", k, err)
		}
		rc.Close()
	}
	rc, _ := priv.Get(t.Context(), entryKey)
	entry, _ := io.ReadAll(rc)
	rc.Close()
	opened := regexp.MustCompile(`"Private":\s*true`).ReplaceAll(entry, []byte(`"Private": false`))
	if bytes.Equal(opened, entry) {
		t.Fatalf("the private entry has no \"Private\":true: %s", entry)
	}
	port := p.s3Host[strings.LastIndex(p.s3Host, ":")+1:]
	now := time.Now()
	const wrong = "wrong-secret-wrong-secret-wrong"

	anon := func(method, u string, body []byte) func() *http.Request {
		return func() *http.Request { return newReq(t, method, u, body) }
	}
	signed := func(method, u string, body []byte, sk string, at time.Time) func() *http.Request {
		return func() *http.Request {
			r := newReq(t, method, u, body)
			sign(t, r, p.ak, sk, body, at)
			return r
		}
	}
	type attack struct {
		name   string
		req    func() *http.Request
		status int    // 0: any 4xx
		code   string // S3 error code in the body, if any
	}
	attacks := []attack{
		{"anonymous list (v2) of the private bucket", anon("GET", p.s3URL(p.priv, "")+"?list-type=2", nil), 403, "AccessDenied"},
		{"anonymous list (v1) of the private bucket", anon("GET", p.s3URL(p.priv, "")+"/", nil), 403, "AccessDenied"},
		{"anonymous list of the private bucket by prefix", anon("GET", p.s3URL(p.priv, "")+"?list-type=2&prefix=benchmarks/", nil), 403, "AccessDenied"},
		{"anonymous list of buckets", anon("GET", p.s3+"/", nil), 403, "AccessDenied"},
		{"anonymous GET of the private RDM blob", anon("GET", p.s3URL(p.priv, rdmKey), nil), 403, "AccessDenied"},
		{"anonymous HEAD of the private RDM blob", anon("HEAD", p.s3URL(p.priv, rdmKey), nil), 403, ""},
		{"anonymous GET of a private stimulus", anon("GET", p.s3URL(p.priv, stimKey), nil), 403, "AccessDenied"},
		{"anonymous GET of the private benchmark entry", anon("GET", p.s3URL(p.priv, entryKey), nil), 403, "AccessDenied"},
		{"anonymous GET of a model file", anon("GET", p.s3URL(p.priv, modelKey), nil), 403, "AccessDenied"},
		{"anonymous GET of the private RDM through the public bucket", anon("GET", p.s3URL(p.pub, rdmKey), nil), 404, "NoSuchKey"},
		{"anonymous path traversal from the public bucket", anon("GET", p.s3+"/"+p.pub+"/../"+p.priv+"/"+rdmKey, nil), 0, ""},
		{"anonymous encoded traversal from the public bucket", anon("GET", p.s3+"/"+p.pub+"/..%2F"+p.priv+"%2F"+url.PathEscape(rdmKey), nil), 0, ""},
		{"anonymous PUT of the entry with Private:false", anon("PUT", p.s3URL(p.priv, entryKey), opened), 403, "AccessDenied"},
		{"anonymous DELETE of a model file", anon("DELETE", p.s3URL(p.priv, modelKey), nil), 403, "AccessDenied"},
		{"anonymous multi-object delete", anon("POST", p.s3URL(p.priv, "")+"?delete", []byte("<Delete><Object><Key>"+modelKey+"</Key></Object></Delete>")), 403, "AccessDenied"},
		{"anonymous bucket creation", anon("PUT", p.s3+"/attacker-bucket", nil), 403, "AccessDenied"},
		{"anonymous deletion of the public bucket", anon("DELETE", p.s3URL(p.pub, ""), nil), 403, "AccessDenied"},
		{"anonymous PUT over the published snapshot", anon("PUT", p.s3URL(p.pub, "leaderboard/latest.json"), []byte(`{"rows":["forged"]}`)), 403, "AccessDenied"},
		{"anonymous PUT into the public bucket", anon("PUT", p.s3URL(p.pub, "forged.json"), []byte(`x`)), 403, "AccessDenied"},
		{"CORS preflight from an evil origin", func() *http.Request {
			r := newReq(t, "OPTIONS", p.s3URL(p.priv, modelKey), nil)
			r.Header.Set("Origin", "https://evil.example")
			r.Header.Set("Access-Control-Request-Method", "DELETE")
			return r
		}, 403, "AccessDenied"},
		{"CORS preflight on the public bucket", func() *http.Request {
			r := newReq(t, "OPTIONS", p.s3URL(p.pub, "leaderboard/latest.json"), nil)
			r.Header.Set("Origin", "https://evil.example")
			r.Header.Set("Access-Control-Request-Method", "PUT")
			return r
		}, 403, "AccessDenied"},
		{"foreign Host (DNS rebinding), anonymous public read", func() *http.Request {
			r := newReq(t, "GET", p.s3URL(p.pub, "leaderboard/latest.json"), nil)
			r.Host = "evil.example:" + port
			return r
		}, 403, "AccessDenied"},
		{"foreign Host, correctly signed for it", func() *http.Request {
			r := newReq(t, "GET", p.s3URL(p.priv, rdmKey), nil)
			r.Host = "evil.example:" + port
			sign(t, r, p.ak, p.sk, nil, now)
			return r
		}, 403, "AccessDenied"},
		{"GET of the private RDM signed with a wrong secret", signed("GET", p.s3URL(p.priv, rdmKey), nil, wrong, now), 403, "SignatureDoesNotMatch"},
		{"PUT of the entry with Private:false signed with a wrong secret", signed("PUT", p.s3URL(p.priv, entryKey), opened, wrong, now), 403, "SignatureDoesNotMatch"},
		{"DELETE of a model signed with a wrong secret", signed("DELETE", p.s3URL(p.priv, modelKey), nil, wrong, now), 403, "SignatureDoesNotMatch"},
		{"bucket creation signed with a wrong secret", signed("PUT", p.s3+"/attacker-bucket", nil, wrong, now), 403, "SignatureDoesNotMatch"},
		{"list signed with another access key", func() *http.Request {
			r := newReq(t, "GET", p.s3URL(p.priv, "")+"?list-type=2", nil)
			sign(t, r, "AKIAOTHER0000000000", p.sk, nil, now)
			return r
		}, 403, "InvalidAccessKeyId"},
		{"replayed DELETE signed 20 minutes ago", signed("DELETE", p.s3URL(p.priv, modelKey), nil, p.sk, now.Add(-20*time.Minute)), 403, "RequestTimeTooSkewed"},
		{"presigned GET of the private RDM that has expired", func() *http.Request {
			r := newReq(t, "GET", p.s3URL(p.priv, rdmKey)+"?X-Amz-Expires=60", nil)
			u, _, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).PresignHTTP(t.Context(),
				aws.Credentials{AccessKeyID: p.ak, SecretAccessKey: p.sk}, r, "UNSIGNED-PAYLOAD", "s3", "us-east-1", now.Add(-2*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			return newReq(t, "GET", u, nil)
		}, 403, "AccessDenied"},
	}
	before := p.snapshot(t)
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			status, h, body := p.do(t, a.req())
			if status < 400 || status > 499 || a.status != 0 && status != a.status {
				t.Errorf("status %d, want %d; body %.300s", status, a.status, body)
			}
			if a.code != "" && !bytes.Contains(body, []byte("<Code>"+a.code+"</Code>")) {
				t.Errorf("body %.300s, want S3 error %s", body, a.code)
			}
			noCORS(t, a.name, h)
			// An error may name the key asked for: the caller's own bytes.
			for _, k := range []string{rdmKey, stimKey, modelKey, entryKey} {
				body = bytes.ReplaceAll(body, []byte(k), nil)
			}
			p.secrets.noLeak(t, a.name, body)
			before = p.unchanged(t, before)
		})
	}
	// The entry rewrite would have made the API serve the private RDM
	// within a refresh (200 ms here): it still refuses.
	time.Sleep(600 * time.Millisecond)
	t.Run("after the rewrite attempts the API still treats the benchmark as private", func(t *testing.T) {
		status, _, body := p.do(t, newReq(t, "GET", p.api+"/api/v1/benchmarks/"+privBench, nil))
		if status != 200 || !bytes.Contains(body, []byte(`"private":true`)) {
			t.Errorf("GET /api/v1/benchmarks/%s = %d %.300s, want it private", privBench, status, body)
		}
		status, _, body = p.do(t, newReq(t, "GET", p.api+"/api/v1/models/"+p.scored[0]+"/rdm/"+privBench, nil))
		if status != 403 {
			t.Errorf("the private RDM pair: %d %.300s, want 403", status, body)
		}
		p.secrets.noLeak(t, "the private RDM pair", body)
	})
}

// listResult is a ListObjectsV2 answer.
type listResult struct {
	Contents []struct {
		Key string `xml:"Key"`
	} `xml:"Contents"`
	IsTruncated           bool   `xml:"IsTruncated"`
	NextContinuationToken string `xml:"NextContinuationToken"`
}

// objectWalk lists the public bucket anonymously and reads every object
// in it, then tries every key of the private bucket anonymously (directly
// and through the public bucket): no answer holds a private byte, and no
// public listing names a private key.
func objectWalk(t *testing.T, p *platform) {
	privKeys := listAll(t, p.bucket(t, p.priv))
	if len(privKeys) < 20 {
		t.Fatalf("the private bucket holds %d objects; the platform was not set up", len(privKeys))
	}
	var pubKeys []string
	t.Run("anonymous listing of the public bucket", func(t *testing.T) {
		token := ""
		for {
			u := p.s3URL(p.pub, "") + "?list-type=2"
			if token != "" {
				u += "&continuation-token=" + url.QueryEscape(token)
			}
			status, _, body := p.do(t, newReq(t, "GET", u, nil))
			if status != 200 {
				t.Fatalf("anonymous list of %s = %d %.300s", p.pub, status, body)
			}
			p.secrets.noLeak(t, "the public listing", body)
			for _, k := range privKeys {
				if bytes.Contains(body, []byte("<Key>"+k+"</Key>")) {
					t.Errorf("the public listing names private key %s", k)
				}
			}
			var lr listResult
			if err := xml.Unmarshal(body, &lr); err != nil {
				t.Fatal(err)
			}
			for _, c := range lr.Contents {
				pubKeys = append(pubKeys, c.Key)
			}
			if !lr.IsTruncated {
				break
			}
			token = lr.NextContinuationToken
		}
		if len(pubKeys) < 4 {
			t.Fatalf("the public bucket lists %v, want the published snapshots", pubKeys)
		}
	})
	for _, k := range pubKeys {
		t.Run("anonymous GET of public "+k, func(t *testing.T) {
			if !strings.HasPrefix(k, "leaderboard/") {
				t.Errorf("the public bucket holds %s, not a snapshot", k)
			}
			status, _, body := p.do(t, newReq(t, "GET", p.s3URL(p.pub, k), nil))
			if status != 200 || len(body) == 0 {
				t.Errorf("status %d, %d bytes", status, len(body))
			}
			p.secrets.noLeak(t, k, body)
			for _, pk := range privKeys {
				if strings.HasPrefix(pk, "models/") || strings.HasPrefix(pk, "rdms/") || strings.HasPrefix(pk, "benchmarks/") || strings.HasPrefix(pk, "activations/") {
					if bytes.Contains(body, []byte(pk)) {
						t.Errorf("%s names private key %s", k, pk)
					}
				}
			}
		})
	}
	before := p.snapshot(t)
	t.Run("anonymous GET and HEAD of every private key", func(t *testing.T) {
		for _, k := range privKeys {
			for _, m := range []string{"GET", "HEAD"} {
				status, h, body := p.do(t, newReq(t, m, p.s3URL(p.priv, k), nil))
				if status != 403 {
					t.Errorf("anonymous %s of private %s = %d, want 403", m, k, status)
				}
				noCORS(t, k, h)
				p.secrets.noLeak(t, m+" "+k, body)
			}
			status, _, body := p.do(t, newReq(t, "GET", p.s3URL(p.pub, k), nil))
			if status != 404 && status != 403 {
				t.Errorf("anonymous GET of private %s through the public bucket = %d", k, status)
			}
			// The error names the key asked for: the caller's own bytes.
			p.secrets.noLeak(t, "public/"+k, bytes.ReplaceAll(body, []byte(k), nil))
		}
		before = p.unchanged(t, before)
	})
}
