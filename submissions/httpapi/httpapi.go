// Package httpapi serves the submissions API with gin, under /api/v1:
//
//	POST   /submissions                multipart: the .onnx file ("model") and its metadata → 202
//	GET    /submissions?mine           the caller's submissions, newest first
//	GET    /submissions/{id}           where a submission stands
//	POST   /submissions/{id}/cancel    cancel its queued and running jobs (owner or maintainer)
//	PATCH  /models/{hash}              change a model's metadata (owner or maintainer)
//	DELETE /models/{hash}              withdraw a model (owner or maintainer)
//	POST   /models/{hash}/withdraw     the same
//
// A model's {hash} may be a unique prefix of its id (at least 8 hex
// digits, as 'cortexbench models list' prints it); an ambiguous one is
// answered 409 listing the candidates.
//
// Every route needs an API token ("Authorization: Bearer TOKEN"). Errors
// are JSON ({"error": {"code", "message", "problems"}}) with the status from
// one table; internal errors are logged and answered "internal error" only.
// Register mounts the routes on any gin router, beside the leaderboard's.
package httpapi

import (
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cortexbench/cortexbench/leaderboard/apierr"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/wire"
)

//go:embed openapi.json
var openapiJSON []byte

// OpenAPI returns the OpenAPI 3 document of the routes Register mounts
// (paths relative to /api/v1), for the server's published API document.
func OpenAPI() []byte { return append([]byte(nil), openapiJSON...) }

// ErrorStatus returns the HTTP status for err, from the one table in
// package apierr, which the leaderboard API shares.
func ErrorStatus(err error) int { return apierr.StatusOf(err) }

type api struct {
	svc *submissions.Service
	log *slog.Logger
	now func() time.Time
	// uploads bounds the uploads received at once.
	uploads chan struct{}
	// refused counts each user's refused submissions.
	refused *refusals
	// staging is the private directory uploads are staged in, made on
	// the first upload.
	stagingOnce sync.Once
	staging     string
	stagingErr  error
}

// Register mounts the submissions routes under /api/v1 on r. logger
// receives internal errors (discarded when nil).
func Register(r gin.IRouter, svc *submissions.Service, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg := svc.Config()
	a := &api{svc: svc, log: logger, now: time.Now, uploads: make(chan struct{}, cfg.MaxConcurrentUploads),
		refused: newRefusals(cfg.MaxRefusedPerHour, time.Hour)}
	g := r.Group("/api/v1", a.wrap(a.authenticate))
	g.POST("/submissions", a.wrap(a.submit))
	g.GET("/submissions", a.wrap(a.list))
	g.GET("/submissions/:id", a.wrap(a.status))
	g.POST("/submissions/:id/cancel", a.wrap(a.cancel))
	g.PATCH("/models/:hash", a.wrap(a.changeModel))
	g.DELETE("/models/:hash", a.wrap(a.withdraw))
	g.POST("/models/:hash/withdraw", a.wrap(a.withdraw))
}

// NewHandler returns a handler serving only the submissions routes, for
// servers that compose handlers with net/http's ServeMux (see Patterns)
// rather than mount them on one gin engine with Register.
func NewHandler(svc *submissions.Service, logger *slog.Logger) http.Handler {
	r := gin.New()
	r.Use(gin.Recovery())
	Register(r, svc, logger)
	return r
}

// Patterns returns the ServeMux patterns of the routes Register mounts:
// registering NewHandler under each of them beside the leaderboard's
// handler under "/" routes exactly these requests here (the leaderboard's
// GET /api/v1/models/{hash} stays the leaderboard's).
func Patterns() []string {
	return []string{
		"POST /api/v1/submissions",
		"GET /api/v1/submissions",
		"GET /api/v1/submissions/{id}",
		"POST /api/v1/submissions/{id}/cancel",
		"PATCH /api/v1/models/{hash}",
		"DELETE /api/v1/models/{hash}",
		"POST /api/v1/models/{hash}/withdraw",
	}
}

// userKey holds the authenticated user in the gin context.
const userKey = "cortexbench.user"

// Authenticate is middleware for other APIs (the benchmarks one): it
// answers 401 unless the request carries a valid token, and makes the
// user available to User.
func Authenticate(svc *submissions.Service, logger *slog.Logger) gin.HandlerFunc {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &api{svc: svc, log: logger, now: time.Now}
	return a.wrap(a.authenticate)
}

// RequireMaintainer is middleware after Authenticate: 403 unless the user
// is a maintainer (only maintainers add benchmarks).
func RequireMaintainer(logger *slog.Logger) gin.HandlerFunc {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &api{log: logger, now: time.Now}
	return a.wrap(func(c *gin.Context) error {
		if u, ok := User(c); !ok || !submissions.CanAddBenchmarks(u) {
			return submissions.Errorf(submissions.EFORBIDDEN, "only maintainers may do this")
		}
		return nil
	})
}

// User returns the user Authenticate found.
func User(c *gin.Context) (submissions.User, bool) {
	v, ok := c.Get(userKey)
	if !ok {
		return submissions.User{}, false
	}
	u, ok := v.(submissions.User)
	return u, ok
}

func (a *api) authenticate(c *gin.Context) error {
	h := strings.TrimSpace(c.GetHeader("Authorization"))
	token := h
	if h != "" {
		// The scheme is case-insensitive (RFC 9110 §11.1); a bare token or
		// another scheme is refused without being looked up.
		scheme, rest, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return submissions.Errorf(submissions.EUNAUTHORIZED, `send the API token as "Authorization: Bearer <token>"`)
		}
		token = rest
	}
	u, err := a.svc.Authenticate(c.Request.Context(), strings.TrimSpace(token))
	if err != nil {
		return err
	}
	c.Set(userKey, u)
	return nil
}

func (a *api) user(c *gin.Context) submissions.User {
	u, _ := User(c)
	return u
}

func (a *api) wrap(h func(*gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			a.serveError(c, err)
		}
	}
}

func (a *api) serveError(c *gin.Context, err error) {
	code := submissions.ErrorCode(err)
	if !apierr.Known(code) {
		code = submissions.EINTERNAL
	}
	switch {
	case code == submissions.EINTERNAL:
		a.log.Error("submissions request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
	case code == apierr.Classify(err):
		// A full disk or an unreachable database: the client gets a fixed
		// message, the operator the error naming the path or host.
		a.log.Error("submissions request failed: "+string(code), "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
	}
	body := wire.ErrorBody{Code: string(code), Message: submissions.ErrorMessage(err)}
	for _, p := range submissions.ErrorProblems(err) {
		body.Problems = append(body.Problems, wire.Problem{Field: p.Field, Kind: p.Kind, Message: p.Message})
	}
	var re *retryError
	switch {
	case errors.As(err, &re):
		c.Header("Retry-After", strconv.Itoa(int(re.after.Seconds())+1))
	case code == submissions.EUNAUTHORIZED:
		c.Header("WWW-Authenticate", `Bearer realm="cortexbench"`)
	case code == apierr.EUNAVAILABLE && apierr.Classify(err) == code:
		c.Header("Retry-After", strconv.Itoa(int(apierr.RetryAfter.Seconds())))
	case code == submissions.ELIMIT:
		now := a.now().UTC()
		midnight := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
		c.Header("Retry-After", strconv.Itoa(int(midnight.Sub(now).Seconds())+1))
	}
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(ErrorStatus(err), wire.Error{Error: body})
}

// formSlack is what the metadata fields and multipart framing may add to
// the file's size limit.
const formSlack = 64 << 10

// uploadsBusyRetry is the Retry-After of an upload refused because the
// server receives too many at once.
const uploadsBusyRetry = 30 * time.Second

// submit receives a submission: the model part is streamed to a private
// staging file while it is hashed (never held in memory), validated from
// there (in a bounded child process when the service has one) and
// streamed into the model store; the staged file is always removed. At
// most MaxConcurrentUploads are received at once; a refused submission
// counts against the user's MaxRefusedPerHour.
func (a *api) submit(c *gin.Context) (err error) {
	ctx, u := c.Request.Context(), a.user(c)
	if err := a.refused.check(u.Name, a.now()); err != nil {
		return err
	}
	defer func() {
		if code := submissions.ErrorCode(err); code == submissions.EINVALID || code == submissions.ETOOLARGE {
			a.refused.add(u.Name, a.now())
		}
	}()
	if err := a.svc.CheckQuota(ctx, u); err != nil {
		return err
	}
	select {
	case a.uploads <- struct{}{}:
		defer func() { <-a.uploads }()
	default:
		return &retryError{after: uploadsBusyRetry, err: submissions.Errorf(submissions.EUNAVAILABLE,
			"the server is receiving %d uploads already: nothing was stored, retry in %s", cap(a.uploads), uploadsBusyRetry)}
	}
	cfg := a.svc.Config()
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return submissions.Errorf(submissions.EINVALID, "send multipart/form-data with the .onnx file in field %q and the metadata in fields %s",
			wire.FieldFile, strings.Join([]string{wire.FieldName, wire.FieldVersion, wire.FieldFamily, wire.FieldTrainingData, wire.FieldPreprocessing, wire.FieldCommitments,
				wire.FieldPaper, wire.FieldDescription, wire.FieldLicense, wire.FieldBibTeX}, ", "))
	}
	if c.Request.ContentLength > cfg.MaxFileBytes+formSlack {
		return tooLarge(cfg.MaxFileBytes)
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, cfg.MaxFileBytes+formSlack)
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return submissions.Errorf(submissions.EINVALID, "the body is not a valid multipart form: %v", err)
	}
	var (
		meta submissions.Metadata
		file submissions.Upload
		seen bool
	)
	defer func() {
		if err := file.Remove(); err != nil {
			a.log.Error("remove staged upload", "path", file.Path, "err", err)
		}
	}()
	fields := map[string]*string{wire.FieldName: &meta.Name, wire.FieldVersion: &meta.Version, wire.FieldFamily: &meta.Family,
		wire.FieldTrainingData: &meta.TrainingData, wire.FieldPreprocessing: &meta.Preprocessing, wire.FieldCommitments: &meta.Commitments,
		wire.FieldPaper: &meta.Paper, wire.FieldDescription: &meta.Description, wire.FieldLicense: &meta.License, wire.FieldBibTeX: &meta.BibTeX}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return formError(err, cfg.MaxFileBytes)
		}
		name := part.FormName()
		switch {
		case name == wire.FieldFile:
			if seen {
				return submissions.Errorf(submissions.EINVALID, "more than one model file: send one .onnx file in form field %q", wire.FieldFile)
			}
			dir, err := a.stagingDir(cfg.UploadDir)
			if err != nil {
				return err
			}
			rr := &readRecorder{r: part}
			file, err = submissions.StageUpload(dir, rr, cfg.MaxFileBytes)
			if err != nil {
				if rr.err != nil && rr.err != io.EOF {
					return formError(rr.err, cfg.MaxFileBytes)
				}
				return err
			}
			seen = true
		case fields[name] != nil:
			// Over-long values are read one byte past the limit, so the
			// service reports them with every other problem.
			v, err := io.ReadAll(io.LimitReader(part, int64(max(cfg.MaxSpecBytes, submissions.MaxBibTeXBytes))+1))
			if err != nil {
				return formError(err, cfg.MaxFileBytes)
			}
			*fields[name] = string(v)
		default:
			return submissions.Errorf(submissions.EINVALID, "unknown form field %q", name)
		}
	}
	if !seen {
		return submissions.Errorf(submissions.EINVALID, "no model file: send the .onnx file in form field %q", wire.FieldFile)
	}
	sub, err := a.svc.Submit(ctx, u, meta, file)
	if err != nil {
		return err
	}
	st := fromStatus(submissions.StatusOf(sub))
	url := "/api/v1/submissions/" + sub.ID
	c.Header("Location", url)
	c.JSON(http.StatusAccepted, wire.Accepted{ID: sub.ID, ModelHash: sub.ModelHash, StatusURL: url, Status: st, Warnings: append([]string{}, sub.Warnings...)})
	return nil
}

// stagingDir returns the private staging directory, made on first use.
func (a *api) stagingDir(dir string) (string, error) {
	a.stagingOnce.Do(func() { a.staging, a.stagingErr = submissions.StagingDir(dir) })
	return a.staging, a.stagingErr
}

// readRecorder remembers the error of its reader, so that a client's
// broken or oversized body is told from a failure to write the file.
type readRecorder struct {
	r   io.Reader
	err error
}

func (r *readRecorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil {
		r.err = err
	}
	return n, err
}

// retryError is an error answered with Retry-After.
type retryError struct {
	after time.Duration
	err   error
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// refusals counts each user's refused submissions in a sliding window, in
// memory (per server process: a restart forgets them). A user with limit
// refusals in the window is refused until the oldest leaves it.
type refusals struct {
	limit  int // ≤ 0: no limit
	window time.Duration
	mu     sync.Mutex
	byUser map[string][]time.Time // oldest first, all within the window
}

func newRefusals(limit int, window time.Duration) *refusals {
	return &refusals{limit: limit, window: window, byUser: map[string][]time.Time{}}
}

// recent returns user's refusals still in the window at now (r.mu held).
func (r *refusals) recent(user string, now time.Time) []time.Time {
	ts := r.byUser[user]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= r.window {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(r.byUser, user)
		return nil
	}
	r.byUser[user] = ts
	return ts
}

// check returns an ELIMIT error (429, Retry-After) when user has reached
// the limit.
func (r *refusals) check(user string, now time.Time) error {
	if r.limit <= 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ts := r.recent(user, now)
	if len(ts) < r.limit {
		return nil
	}
	at := ts[len(ts)-r.limit].Add(r.window)
	after := at.Sub(now)
	return &retryError{after: after, err: submissions.Errorf(submissions.ELIMIT,
		"%d of your submissions were refused in the last %s, the limit: nothing was read; fix the model and its metadata, and submit again after %s UTC (in %s)",
		len(ts), r.window, at.UTC().Format("15:04:05"), after.Round(time.Second))}
}

func (r *refusals) add(user string, now time.Time) {
	if r.limit <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ts := r.recent(user, now)
	if len(ts) >= r.limit { // keep only what check needs
		ts = ts[len(ts)-r.limit+1:]
	}
	r.byUser[user] = append(ts, now)
}

func tooLarge(limit int64) error {
	return submissions.Errorf(submissions.ETOOLARGE, "the upload is over the limit of %d bytes: submit a smaller model", limit)
}

func formError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(limit)
	}
	return submissions.Errorf(submissions.EINVALID, "the multipart form could not be read: %v", err)
}

func (a *api) list(c *gin.Context) error {
	q := c.Request.URL.Query()
	if _, ok := q["mine"]; !ok || len(q) != 1 {
		return submissions.Errorf(submissions.EINVALID, "list your own submissions with ?mine (the only query parameter)")
	}
	sts, err := a.svc.List(c.Request.Context(), a.user(c), 200)
	if err != nil {
		return err
	}
	out := wire.StatusList{Submissions: make([]wire.Status, len(sts))}
	for i, s := range sts {
		out.Submissions[i] = fromStatus(s)
	}
	c.Header("Cache-Control", "private, no-store")
	c.JSON(http.StatusOK, out)
	return nil
}

func (a *api) status(c *gin.Context) error {
	st, err := a.svc.Get(c.Request.Context(), a.user(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "private, no-store")
	c.JSON(http.StatusOK, fromStatus(st))
	return nil
}

func decodeJSON(c *gin.Context, v any) error {
	if c.Request.ContentLength == 0 {
		return nil
	}
	dec := json.NewDecoder(io.LimitReader(c.Request.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && err != io.EOF {
		return submissions.Errorf(submissions.EINVALID, "the JSON body could not be read: %v", err)
	}
	return nil
}

func (a *api) changeModel(c *gin.Context) error {
	var ch wire.ModelChange
	if err := decodeJSON(c, &ch); err != nil {
		return err
	}
	m, err := a.svc.UpdateModel(c.Request.Context(), a.user(c), c.Param("hash"),
		submissions.ModelChange{Name: ch.Name, Version: ch.Version, Family: ch.Family, TrainingData: ch.TrainingData,
			Paper: ch.Paper, Description: ch.Description, License: ch.License, BibTeX: ch.BibTeX})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, wire.Model{Hash: m.Hash, Name: m.Name, Version: m.Version, Family: m.Family, TrainingData: m.TrainingData, Owner: m.Owner,
		Paper: m.Paper, Description: m.Description, License: m.License, BibTeX: m.BibTeX})
	return nil
}

func (a *api) withdraw(c *gin.Context) error {
	var w wire.Withdrawal
	if err := decodeJSON(c, &w); err != nil {
		return err
	}
	out, err := a.svc.Withdraw(c.Request.Context(), a.user(c), c.Param("hash"), w.Reason)
	if err != nil {
		return err
	}
	subs := out.Submissions
	if subs == nil {
		subs = []string{}
	}
	c.JSON(http.StatusOK, wire.Withdrawn{Hash: out.Model.Hash, Name: out.Model.Name, Withdrawn: true, By: out.Withdrawal.By,
		Reason: out.Withdrawal.Reason, At: out.Withdrawal.At, Submissions: subs, CancelledJobs: out.CancelledJobs})
	return nil
}

// cancel takes no body (one sent is not read: the caller's permission is
// what is checked).
func (a *api) cancel(c *gin.Context) error {
	st, err := a.svc.Cancel(c.Request.Context(), a.user(c), c.Param("id"))
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "private, no-store")
	c.JSON(http.StatusOK, fromStatus(st))
	return nil
}

// fromStatus converts a status to its wire form.
func fromStatus(s submissions.Status) wire.Status {
	out := wire.Status{ID: s.ID, Owner: s.Owner, ModelHash: s.ModelHash, ModelName: s.ModelName, State: string(s.State),
		Benchmark: s.Benchmark, Benchmarks: s.Benchmarks, Done: s.Done, Current: s.Current,
		FailureClass: string(s.FailureClass), Message: s.Message,
		Estimate:  wire.Estimate{Seconds: s.Estimate.Seconds, Bytes: s.Estimate.Bytes, Formula: wire.EstimateFormula},
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, Jobs: make([]wire.Job, len(s.Jobs))}
	for i, j := range s.Jobs {
		out.Jobs[i] = wire.Job{Position: j.Position, BenchmarkID: j.BenchmarkID, State: string(j.State), Stage: j.Stage,
			FailureClass: j.FailureClass, Message: j.Message, Attempt: j.Attempt, UpdatedAt: j.UpdatedAt}
	}
	return out
}
