package embedded

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"hash"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits of the request guard.
const (
	// maxSkew is how far a request's X-Amz-Date may be from the server's
	// clock (S3 allows 15 minutes).
	maxSkew = 15 * time.Minute
	// maxPresignExpiry is S3's longest presigned URL lifetime (7 days).
	maxPresignExpiry = 7 * 24 * 3600
	// maxBufferedBody is the largest body, other than an object or part
	// upload, that a signed request may carry: such bodies (XML documents)
	// are read whole and checked against their declared SHA-256 before the
	// request goes on. Uploads read their body to the end before they
	// commit anything and are checked as they stream.
	maxBufferedBody = 8 << 20

	unsignedPayload = "UNSIGNED-PAYLOAD"
	sigAlgorithm    = "AWS4-HMAC-SHA256"
	amzDateFormat   = "20060102T150405Z"
)

var emptySHA256 = hex.EncodeToString(sha256.New().Sum(nil))

// guard is the http.Handler in front of gofakes3. gofakes3 checks no
// signature and answers CORS with "*", so everything it would accept
// passes here first:
//
//   - the Host header must be the endpoint's own loopback address and port
//     (a DNS-rebinding page has its own host name there);
//   - no CORS: OPTIONS is refused, so is any request carrying an Origin
//     other than the endpoint's own, and Access-Control-* headers are
//     removed from every answer;
//   - a request is authenticated by an AWS Signature Version 4 (header or
//     presigned query) made with the endpoint's credentials, recomputed
//     here from the request as the server sees it; X-Amz-Date must be
//     within 15 minutes, presigned URLs within their expiry;
//   - the payload hash a signed request declares is checked: XML bodies
//     (up to maxBufferedBody) before the request goes on, object and part
//     uploads as they stream (a mismatch fails the read, so the backend
//     never commits the object, and the answer is 400
//     XAmzContentSHA256Mismatch); UNSIGNED-PAYLOAD is accepted as S3
//     does; aws-chunked streaming payloads are refused (neither the
//     project's client nor the aws CLI sends them over http);
//   - without a signature only GET and HEAD of objects of the public
//     bucket, and listings of it, are served.
type guard struct {
	next      http.Handler
	host      string // the endpoint's host:port, the only Host accepted
	accessKey string
	secretKey string
	public    string // the bucket anonymous clients may read
	now       func() time.Time
}

// s3Error is S3's XML error document.
type s3Error struct {
	XMLName xml.Name `xml:"Error"`
	Code    string   `xml:"Code"`
	Message string   `xml:"Message"`
}

type refusal struct {
	status  int
	code    string
	message string
}

func (e *refusal) Error() string { return e.code + ": " + e.message }

func refuse(status int, code, message string) *refusal {
	return &refusal{status: status, code: code, message: message}
}

func accessDenied(message string) *refusal {
	return refuse(http.StatusForbidden, "AccessDenied", message)
}

func writeRefusal(w http.ResponseWriter, r *http.Request, e *refusal) {
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Connection", "close")
	w.WriteHeader(e.status)
	if r.Method != http.MethodHead {
		w.Write([]byte(xml.Header))
		xml.NewEncoder(w).Encode(s3Error{Code: e.code, Message: e.message})
	}
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := g.check(r)
	if err != nil {
		var e *refusal
		if !errors.As(err, &e) {
			e = refuse(http.StatusBadRequest, "InvalidRequest", "malformed request")
		}
		writeRefusal(w, r, e)
		return
	}
	gw := &guardedWriter{ResponseWriter: w, req: r, body: body}
	g.next.ServeHTTP(gw, r)
	if !gw.wroteHeader {
		gw.WriteHeader(http.StatusOK)
	}
	gw.release()
}

// check decides whether r may reach gofakes3. When the body is checked as
// it streams, it returns the checking reader (already installed as r.Body).
func (g *guard) check(r *http.Request) (*verifyingBody, error) {
	if !strings.EqualFold(r.Host, g.host) {
		return nil, accessDenied("this endpoint answers only requests addressed to " + g.host)
	}
	if r.Method == http.MethodOptions {
		return nil, accessDenied("CORS is not enabled on this endpoint")
	}
	if o := r.Header.Values("Origin"); len(o) > 0 && (len(o) > 1 || !strings.EqualFold(o[0], "http://"+g.host)) {
		return nil, accessDenied("cross-origin requests are not allowed")
	}
	q := r.URL.Query()
	_, presigned := q["X-Amz-Signature"]
	_, presignedAlg := q["X-Amz-Algorithm"]
	auth := r.Header.Values("Authorization")
	switch {
	case len(auth) > 0 && (presigned || presignedAlg):
		return nil, refuse(http.StatusBadRequest, "InvalidArgument", "only one authentication mechanism allowed")
	case len(auth) > 0:
		if len(auth) > 1 {
			return nil, refuse(http.StatusBadRequest, "InvalidArgument", "more than one Authorization header")
		}
		return g.checkHeaderAuth(r, auth[0])
	case presigned || presignedAlg:
		return g.checkPresigned(r, q)
	}
	if g.anonymousAllowed(r, q) {
		return nil, nil
	}
	return nil, accessDenied("anonymous access is limited to reading bucket " + g.public)
}

// anonymousQuery lists the query parameters of the reads anonymous clients
// may make: object GET/HEAD and ListObjects (v1 and v2). Anything else
// (?acl, ?uploads, ?versions, ?location...) needs a signature.
var anonymousQuery = map[string]bool{
	"list-type": true, "prefix": true, "delimiter": true, "marker": true,
	"max-keys": true, "start-after": true, "continuation-token": true,
	"encoding-type": true, "fetch-owner": true, "x-id": true,
}

func (g *guard) anonymousAllowed(r *http.Request, q map[string][]string) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	// Split the path exactly as gofakes3's router does.
	bucket, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if bucket != g.public {
		return false
	}
	for k := range q {
		if !anonymousQuery[k] {
			return false
		}
	}
	return true
}

// sigParams are the parts of a signature, from the Authorization header or
// the presigned query.
type sigParams struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
	amzDate                          time.Time
	amzDateRaw                       string
}

// parseCredential splits "AKID/20261203/us-east-1/s3/aws4_request".
func (p *sigParams) parseCredential(cred string) error {
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[0] == "" || parts[2] == "" || parts[4] != "aws4_request" {
		return errors.New("malformed credential scope")
	}
	if parts[3] != "s3" {
		return errors.New("credential scope: service must be s3")
	}
	p.accessKey, p.date, p.region, p.service = parts[0], parts[1], parts[2], parts[3]
	return nil
}

func (p *sigParams) parseDate(raw string) error {
	t, err := time.Parse(amzDateFormat, raw)
	if err != nil {
		return errors.New("X-Amz-Date must be given as " + amzDateFormat)
	}
	if p.date != raw[:8] {
		return errors.New("credential scope date differs from X-Amz-Date")
	}
	p.amzDate, p.amzDateRaw = t, raw
	return nil
}

func (p *sigParams) parseSignedHeaders(s string) error {
	if s == "" {
		return errors.New("no signed headers")
	}
	p.signedHeaders = strings.Split(s, ";")
	for _, h := range p.signedHeaders {
		if h == "" || h != strings.ToLower(h) {
			return errors.New("signed headers must be lower case, separated by ';'")
		}
	}
	if !slices.Contains(p.signedHeaders, "host") {
		return errors.New("the host header must be signed")
	}
	return nil
}

func (g *guard) checkHeaderAuth(r *http.Request, auth string) (*verifyingBody, error) {
	malformed := func(msg string) error {
		return refuse(http.StatusBadRequest, "AuthorizationHeaderMalformed", msg)
	}
	rest, ok := strings.CutPrefix(auth, sigAlgorithm+" ")
	if !ok {
		return nil, malformed("only " + sigAlgorithm + " signatures are accepted")
	}
	var p sigParams
	var haveCred, haveSH, haveSig bool
	for field := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok {
			return nil, malformed("malformed field " + field)
		}
		switch k {
		case "Credential":
			if err := p.parseCredential(v); err != nil {
				return nil, malformed(err.Error())
			}
			haveCred = true
		case "SignedHeaders":
			if err := p.parseSignedHeaders(v); err != nil {
				return nil, malformed(err.Error())
			}
			haveSH = true
		case "Signature":
			p.signature, haveSig = v, true
		default:
			return nil, malformed("unknown field " + k)
		}
	}
	if !haveCred || !haveSH || !haveSig {
		return nil, malformed("Credential, SignedHeaders and Signature are required")
	}
	rawDate := r.Header.Get("X-Amz-Date")
	if rawDate == "" {
		return nil, accessDenied("X-Amz-Date header is required")
	}
	if err := p.parseDate(rawDate); err != nil {
		return nil, malformed(err.Error())
	}
	if err := g.checkTime(p.amzDate, 0); err != nil {
		return nil, err
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		return nil, refuse(http.StatusBadRequest, "InvalidRequest", "x-amz-content-sha256 header is required")
	}
	if err := g.checkSignature(r, &p, payload, ""); err != nil {
		return nil, err
	}
	return checkPayload(r, payload)
}

func (g *guard) checkPresigned(r *http.Request, q map[string][]string) (*verifyingBody, error) {
	malformed := func(msg string) error {
		return refuse(http.StatusBadRequest, "AuthorizationQueryParametersError", msg)
	}
	get := func(k string) (string, error) {
		v := q[k]
		if len(v) != 1 || v[0] == "" {
			return "", malformed(k + " must be given once")
		}
		return v[0], nil
	}
	var p sigParams
	alg, err := get("X-Amz-Algorithm")
	if err != nil {
		return nil, err
	}
	if alg != sigAlgorithm {
		return nil, malformed("only " + sigAlgorithm + " signatures are accepted")
	}
	cred, err := get("X-Amz-Credential")
	if err != nil {
		return nil, err
	}
	if err := p.parseCredential(cred); err != nil {
		return nil, malformed(err.Error())
	}
	rawDate, err := get("X-Amz-Date")
	if err != nil {
		return nil, err
	}
	if err := p.parseDate(rawDate); err != nil {
		return nil, malformed(err.Error())
	}
	sh, err := get("X-Amz-SignedHeaders")
	if err != nil {
		return nil, err
	}
	if err := p.parseSignedHeaders(sh); err != nil {
		return nil, malformed(err.Error())
	}
	if p.signature, err = get("X-Amz-Signature"); err != nil {
		return nil, err
	}
	exp, err := get("X-Amz-Expires")
	if err != nil {
		return nil, err
	}
	expires, err := strconv.Atoi(exp)
	if err != nil || expires < 1 || expires > maxPresignExpiry {
		return nil, malformed("X-Amz-Expires must be between 1 and 604800 seconds")
	}
	if err := g.checkTime(p.amzDate, time.Duration(expires)*time.Second); err != nil {
		return nil, err
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		payload = unsignedPayload
	}
	if err := g.checkSignature(r, &p, payload, "X-Amz-Signature"); err != nil {
		return nil, err
	}
	return checkPayload(r, payload)
}

// checkTime accepts a request dated within maxSkew of now, or, for a
// presigned URL (expires > 0), from maxSkew before its date to its expiry.
func (g *guard) checkTime(t time.Time, expires time.Duration) error {
	now := g.now()
	if expires > 0 {
		if now.Before(t.Add(-maxSkew)) {
			return refuse(http.StatusForbidden, "RequestTimeTooSkewed", "the request is dated in the future")
		}
		if now.After(t.Add(expires)) {
			return accessDenied("request has expired")
		}
		return nil
	}
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return refuse(http.StatusForbidden, "RequestTimeTooSkewed",
			"the difference between the request time and the server's time is too large")
	}
	return nil
}

// checkSignature recomputes the signature of r and compares it with p's.
// skipQuery names the query parameter left out of the canonical query (the
// signature itself, for presigned URLs).
func (g *guard) checkSignature(r *http.Request, p *sigParams, payload, skipQuery string) error {
	if !hmac.Equal([]byte(p.accessKey), []byte(g.accessKey)) {
		return refuse(http.StatusForbidden, "InvalidAccessKeyId", "the access key ID does not exist")
	}
	// Every x-amz-* header the request carries must be signed, as S3
	// demands, so none can be added to a captured request.
	for name := range r.Header {
		l := strings.ToLower(name)
		if strings.HasPrefix(l, "x-amz-") && !slices.Contains(p.signedHeaders, l) {
			return accessDenied("header " + l + " is present but not signed")
		}
	}
	headers, err := canonicalHeaders(r, p.signedHeaders)
	if err != nil {
		return accessDenied(err.Error())
	}
	query := canonicalQuery(r, skipQuery)
	scope := p.date + "/" + p.region + "/" + p.service + "/aws4_request"
	key := hmacSHA256([]byte("AWS4"+g.secretKey), p.date)
	key = hmacSHA256(key, p.region)
	key = hmacSHA256(key, p.service)
	key = hmacSHA256(key, "aws4_request")
	given := []byte(strings.ToLower(p.signature))
	for _, uri := range canonicalURIs(r) {
		creq := strings.Join([]string{r.Method, uri, query, headers, strings.Join(p.signedHeaders, ";"), payload}, "\n")
		sum := sha256.Sum256([]byte(creq))
		toSign := sigAlgorithm + "\n" + p.amzDateRaw + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
		want := hex.EncodeToString(hmacSHA256(key, toSign))
		if hmac.Equal([]byte(want), given) {
			return nil
		}
	}
	return refuse(http.StatusForbidden, "SignatureDoesNotMatch",
		"the request signature we calculated does not match the signature you provided")
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// canonicalURIs returns the canonical URI forms a client may have signed:
// the path exactly as it was sent (what the AWS SDKs and botocore sign for
// S3), and the path the server decoded, encoded as SigV4 prescribes. Both
// determine the path gofakes3 acts on.
func canonicalURIs(r *http.Request) []string {
	strict := uriEncode(r.URL.Path, false)
	if strict == "" {
		strict = "/"
	}
	raw := r.URL.EscapedPath()
	if strings.HasPrefix(r.RequestURI, "/") {
		raw, _, _ = strings.Cut(r.RequestURI, "?")
	}
	if raw == "" {
		raw = "/"
	}
	if raw == strict {
		return []string{raw}
	}
	return []string{raw, strict}
}

// canonicalQuery encodes the query as gofakes3 will read it (r.URL.Query),
// so what is signed is what is acted on.
func canonicalQuery(r *http.Request, skip string) string {
	type kv struct{ k, v string }
	var params []kv
	for k, vs := range r.URL.Query() {
		if k == skip {
			continue
		}
		ek := uriEncode(k, true)
		for _, v := range vs {
			params = append(params, kv{ek, uriEncode(v, true)})
		}
	}
	slices.SortFunc(params, func(a, b kv) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// canonicalHeaders builds the canonical header block from the headers as
// the server received them. Go moves Host to r.Host and may drop
// Content-Length and Transfer-Encoding from r.Header, so those come from
// the request's fields.
func canonicalHeaders(r *http.Request, signed []string) (string, error) {
	var b strings.Builder
	for _, name := range signed {
		var values []string
		switch name {
		case "host":
			values = []string{r.Host}
		case "content-length":
			values = r.Header.Values("Content-Length")
			if len(values) == 0 && r.ContentLength >= 0 {
				values = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		case "transfer-encoding":
			values = r.TransferEncoding
		default:
			values = r.Header.Values(name)
		}
		if len(values) == 0 {
			return "", errors.New("signed header " + name + " is missing")
		}
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range values {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strings.Join(strings.Fields(v), " "))
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// uriEncode is SigV4's UriEncode: every byte but A-Z a-z 0-9 - . _ ~ is
// percent-encoded, and '/' too when encodeSlash.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// checkPayload makes sure the body is the one whose SHA-256 was signed.
func checkPayload(r *http.Request, payload string) (*verifyingBody, error) {
	if payload == unsignedPayload {
		return nil, nil
	}
	if strings.HasPrefix(payload, "STREAMING-") {
		return nil, refuse(http.StatusNotImplemented, "NotImplemented",
			"aws-chunked streaming payloads are not supported by this endpoint: sign the payload's SHA-256 or send UNSIGNED-PAYLOAD")
	}
	want, err := hex.DecodeString(payload)
	if err != nil || len(want) != sha256.Size {
		return nil, refuse(http.StatusBadRequest, "InvalidArgument", "x-amz-content-sha256 must be a SHA-256 in hex or UNSIGNED-PAYLOAD")
	}
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		if payload != emptySHA256 {
			return nil, refuse(http.StatusBadRequest, "XAmzContentSHA256Mismatch", "the body's SHA-256 does not match x-amz-content-sha256")
		}
		return nil, nil
	}
	if isUpload(r) {
		vb := &verifyingBody{inner: r.Body, h: sha256.New(), want: want, size: r.ContentLength}
		r.Body = vb
		return vb, nil
	}
	// Other bodies (XML documents) may be read only in part by their
	// consumer: read them whole and check them first.
	if r.ContentLength < 0 || r.ContentLength > maxBufferedBody {
		return nil, refuse(http.StatusBadRequest, "InvalidRequest", "body too large or of unknown length for this request")
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBufferedBody+1))
	if err != nil || int64(len(data)) != r.ContentLength {
		return nil, refuse(http.StatusBadRequest, "IncompleteBody", "could not read the request body")
	}
	if sum := sha256.Sum256(data); !hmac.Equal(sum[:], want) {
		return nil, refuse(http.StatusBadRequest, "XAmzContentSHA256Mismatch", errPayloadMismatch.Error())
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	return nil, nil
}

// isUpload tells whether r is a PutObject or UploadPart: the requests that
// read their whole body into a temporary file and commit it only after a
// clean end of the body, so it can be checked as it streams.
func isUpload(r *http.Request) bool {
	if r.Method != http.MethodPut || r.Header.Get("X-Amz-Copy-Source") != "" {
		return false
	}
	_, object, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if object == "" {
		return false
	}
	for k := range r.URL.Query() {
		if k != "partNumber" && k != "uploadId" && k != "x-id" {
			return false
		}
	}
	return true
}

var errPayloadMismatch = errors.New("the body's SHA-256 does not match x-amz-content-sha256")

// verifyingBody hashes the body as it is read. The read that delivers the
// last byte (by Content-Length, or at EOF when the length is unknown)
// fails if the hash differs, so a consumer never sees a clean end of a
// tampered body.
type verifyingBody struct {
	inner    io.ReadCloser
	h        hash.Hash
	want     []byte
	size     int64 // -1 if unknown
	n        int64
	done     bool
	mismatch bool
}

func (v *verifyingBody) Read(p []byte) (int, error) {
	if v.mismatch {
		return 0, errPayloadMismatch
	}
	if v.done {
		return 0, io.EOF
	}
	n, err := v.inner.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF || (v.size >= 0 && v.n >= v.size) {
		v.done = true
		if !hmac.Equal(v.h.Sum(nil), v.want) || (v.size >= 0 && v.n != v.size) {
			v.mismatch = true
			return 0, errPayloadMismatch
		}
	}
	return n, err
}

func (v *verifyingBody) Close() error { return v.inner.Close() }

// guardedWriter removes CORS headers from gofakes3's answers and, when the
// body failed its hash check, answers 400 XAmzContentSHA256Mismatch in
// place of the backend's error.
type guardedWriter struct {
	http.ResponseWriter
	req         *http.Request
	body        *verifyingBody
	wroteHeader bool
	replaced    bool
	hold        held // a 500 held back until its body is known (full.go)
}

func (w *guardedWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	h := w.ResponseWriter.Header()
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			delete(h, k)
		}
	}
	if w.body != nil && w.body.mismatch {
		w.replaced = true
		h.Del("ETag")
		h.Del("Content-Length")
		writeRefusal(w.ResponseWriter, w.req, refuse(http.StatusBadRequest, "XAmzContentSHA256Mismatch", errPayloadMismatch.Error()))
		return
	}
	if code == http.StatusInternalServerError {
		w.hold.on, w.hold.code = true, code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *guardedWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.replaced {
		return len(p), nil
	}
	if w.hold.on {
		return w.hold.buf.Write(p)
	}
	return w.ResponseWriter.Write(p)
}
