package submissions

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions/record"
)

// Config holds the limits of the submission service.
type Config struct {
	// MaxFileBytes bounds the ONNX file. Default 512 MiB.
	MaxFileBytes int64
	// DailyLimit bounds accepted submissions per user per UTC day.
	// Default 10; negative means no limit.
	DailyLimit int
	// MaxNameBytes bounds the name, version, family and training data
	// fields; MaxSpecBytes the preprocessing spec. Defaults 128 and 1024.
	MaxNameBytes int
	MaxSpecBytes int
	// Validator bounds what a model may be (its MaxFileBytes is set to
	// MaxFileBytes).
	Validator onnxmodel.Config
	// MaxConcurrentUploads bounds the uploads an HTTP server receives at
	// once (default 4); one more is answered 503 with Retry-After.
	MaxConcurrentUploads int
	// MaxRefusedPerHour bounds a user's refused submissions (a refused
	// model file, one too large, bad metadata or spec) in any hour: once
	// reached, the user's submissions are answered 429 until the oldest
	// refusal is an hour old. Accepted submissions do not count. Default
	// 20; negative means no limit. Counted in the memory of each server
	// process (a restart forgets them).
	MaxRefusedPerHour int
	// UploadDir is where uploads are staged while they are validated
	// (private, 0700); default a new directory under the system's
	// temporary directory.
	UploadDir string
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.MaxFileBytes == 0 {
		c.MaxFileBytes = 512 << 20
	}
	if c.DailyLimit == 0 {
		c.DailyLimit = 10
	}
	if c.MaxNameBytes == 0 {
		c.MaxNameBytes = 128
	}
	if c.MaxSpecBytes == 0 {
		c.MaxSpecBytes = 1024
	}
	if c.MaxConcurrentUploads == 0 {
		c.MaxConcurrentUploads = 4
	}
	if c.MaxRefusedPerHour == 0 {
		c.MaxRefusedPerHour = 20
	}
	if c.Validator == (onnxmodel.Config{}) {
		c.Validator = onnxmodel.DefaultConfig()
	}
	c.Validator.MaxFileBytes = c.MaxFileBytes
	return c
}

// Validate reports what is wrong with c (after WithDefaults).
func (c Config) Validate() error {
	if c.MaxFileBytes <= 0 || c.MaxNameBytes <= 0 || c.MaxSpecBytes <= 0 || c.MaxConcurrentUploads <= 0 {
		return fmt.Errorf("submissions config: limits must be positive (max file bytes %d, max name bytes %d, max spec bytes %d, max concurrent uploads %d)",
			c.MaxFileBytes, c.MaxNameBytes, c.MaxSpecBytes, c.MaxConcurrentUploads)
	}
	return c.Validator.Validate()
}

// ModelStore keeps accepted model entries and their files (models.Registry
// over the object store implements it). Add stores the file once per
// sha256 and the entry's metadata once: adding an existing entry writes
// nothing and returns the stored metadata with created false.
type ModelStore interface {
	Add(ctx context.Context, m models.Metadata, file io.Reader) (stored models.Metadata, created bool, err error)
}

// Deps are the service's collaborators; Models and Queue are needed only
// to submit (managing users and tokens needs the registry alone).
type Deps struct {
	Registry Registry
	Models   ModelStore
	Queue    Queue
	// Runtime, when set, must load a model for it to be accepted (ONNX
	// Runtime); nil checks the file's structure only.
	Runtime onnxmodel.Runtime
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Service accepts submissions and reports on them. It is safe for
// concurrent use.
type Service struct {
	cfg  Config
	deps Deps
	// storeMu serialises ModelStore.Add: models.Registry rewrites its index
	// without locking.
	storeMu sync.Mutex
	// validator bounds how many uploads are validated at once.
	validator *onnxmodel.Validator
}

// New returns a service; cfg gets its defaults.
func New(cfg Config, deps Deps) (*Service, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Registry == nil {
		return nil, errors.New("submissions: the registry is required")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	v, err := onnxmodel.NewValidator(cfg.Validator, deps.Runtime)
	if err != nil {
		return nil, fmt.Errorf("submissions: %w", err)
	}
	return &Service{cfg: cfg, deps: deps, validator: v}, nil
}

// Config returns the configuration in effect.
func (s *Service) Config() Config { return s.cfg }

// tokenPrefix marks cortexbench API tokens (so a leaked one is recognisable).
const tokenPrefix = "cbt_"

// HashToken returns the hex sha256 under which a token is stored.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateUser adds an account.
func (s *Service) CreateUser(ctx context.Context, name string, role Role) (User, error) {
	u := User{Name: name, Role: role, CreatedAt: s.deps.Now().UTC()}
	if !validName(name) {
		return u, Errorf(EINVALID, "user name %q: use 1 to 64 letters, digits, '.', '-' or '_'", name)
	}
	if !role.Valid() {
		return u, Errorf(EINVALID, "role %q: use %q or %q", role, RoleSubmitter, RoleMaintainer)
	}
	err := s.deps.Registry.CreateUser(ctx, u)
	if errors.Is(err, registry.ErrExists) {
		return u, Errorf(ECONFLICT, "user %q already exists", name)
	}
	return u, err
}

func validName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// DefaultTokenLifetime is how long a token lives unless its creator says
// otherwise; MaxTokenLifetime is the longest allowed. No token lives for
// ever: a forgotten token in a script or a CI secret is the usual leak.
const (
	DefaultTokenLifetime = 90 * 24 * time.Hour
	MaxTokenLifetime     = 366 * 24 * time.Hour
)

// touchEvery is how stale a token's last use may get before
// Authenticate records a new one (so a busy token costs one write an
// hour, not one a request).
const touchEvery = time.Hour

// CreateToken makes a new API token for user, valid for lifetime
// (DefaultTokenLifetime when 0, at most MaxTokenLifetime): 32 random bytes,
// returned once; only its sha256 is stored. It returns the secret and the
// token's record.
func (s *Service) CreateToken(ctx context.Context, user string, lifetime time.Duration) (string, Token, error) {
	if lifetime == 0 {
		lifetime = DefaultTokenLifetime
	}
	if lifetime < 0 || lifetime > MaxTokenLifetime {
		return "", Token{}, Errorf(EINVALID, "token lifetime %.4g days: use more than 0 and at most %d days (tokens always expire)", lifetime.Hours()/24, int(MaxTokenLifetime/(24*time.Hour)))
	}
	if _, err := s.deps.Registry.GetUser(ctx, user); registry.IsNotFound(err) {
		return "", Token{}, Errorf(ENOTFOUND, "no user %q: add it first with 'cortexbench users add %s --role submitter'", user, user)
	} else if err != nil {
		return "", Token{}, err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Token{}, fmt.Errorf("create token: %w", err)
	}
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	now := s.deps.Now().UTC()
	t, err := s.deps.Registry.AddToken(ctx, Token{User: user, CreatedAt: now, ExpiresAt: now.Add(lifetime)}, HashToken(token))
	if err != nil {
		return "", Token{}, err
	}
	return token, t, nil
}

// ListTokens returns the tokens of user (everyone's when empty).
func (s *Service) ListTokens(ctx context.Context, user string) ([]Token, error) {
	if user != "" {
		if _, err := s.getUser(ctx, user); err != nil {
			return nil, err
		}
	}
	return s.deps.Registry.ListTokens(ctx, user)
}

// RevokeToken revokes the token with the given ID: it authenticates
// nobody from the next request on.
func (s *Service) RevokeToken(ctx context.Context, id string) (Token, error) {
	t, err := s.deps.Registry.RevokeToken(ctx, id, s.deps.Now().UTC())
	if registry.IsNotFound(err) {
		return t, Errorf(ENOTFOUND, "no token %q: list them with 'cortexbench tokens list'", id)
	}
	return t, err
}

// ListUsers returns every account.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) {
	return s.deps.Registry.ListUsers(ctx)
}

func (s *Service) getUser(ctx context.Context, name string) (User, error) {
	u, err := s.deps.Registry.GetUser(ctx, name)
	if registry.IsNotFound(err) {
		return u, Errorf(ENOTFOUND, "no user %q: list them with 'cortexbench users list'", name)
	}
	return u, err
}

// SetUserDisabled disables (or enables) an account: a disabled user's
// tokens authenticate nobody from the next request on.
func (s *Service) SetUserDisabled(ctx context.Context, name string, disabled bool) (User, error) {
	if _, err := s.getUser(ctx, name); err != nil {
		return User{}, err
	}
	if err := s.deps.Registry.SetUserDisabled(ctx, name, disabled); err != nil {
		return User{}, err
	}
	return s.getUser(ctx, name)
}

// SetUserRole changes an account's role, effective from the next request.
func (s *Service) SetUserRole(ctx context.Context, name string, role Role) (User, error) {
	if !role.Valid() {
		return User{}, Errorf(EINVALID, "role %q: use %q or %q", role, RoleSubmitter, RoleMaintainer)
	}
	if _, err := s.getUser(ctx, name); err != nil {
		return User{}, err
	}
	if err := s.deps.Registry.SetUserRole(ctx, name, role); err != nil {
		return User{}, err
	}
	return s.getUser(ctx, name)
}

// Authenticate returns the owner of token; EUNAUTHORIZED when it is empty,
// matches nobody, is revoked or expired, or its user is disabled. Nothing
// is cached: every call reads the token and the user, so a revocation,
// a disabled user or a role change applies to the very next request.
func (s *Service) Authenticate(ctx context.Context, token string) (User, error) {
	if token == "" {
		return User{}, Errorf(EUNAUTHORIZED, "no API token: send 'Authorization: Bearer TOKEN' (make one with 'cortexbench tokens create --user NAME')")
	}
	t, err := s.deps.Registry.TokenByHash(ctx, HashToken(token))
	if registry.IsNotFound(err) {
		return User{}, Errorf(EUNAUTHORIZED, "the API token is not valid: check it, or ask a maintainer for a new one")
	}
	if err != nil {
		return User{}, err
	}
	now := s.deps.Now().UTC()
	switch {
	case t.Revoked():
		return User{}, Errorf(EUNAUTHORIZED, "the API token was revoked: ask a maintainer for a new one")
	case t.Expired(now):
		return User{}, Errorf(EUNAUTHORIZED, "the API token has expired: ask a maintainer for a new one")
	}
	u, err := s.deps.Registry.GetUser(ctx, t.User)
	if registry.IsNotFound(err) {
		return User{}, Errorf(EUNAUTHORIZED, "the API token is not valid: check it, or ask a maintainer for a new one")
	}
	if err != nil {
		return User{}, err
	}
	if u.Disabled {
		return User{}, Errorf(EUNAUTHORIZED, "the account of this API token is disabled: ask a maintainer")
	}
	if now.Sub(t.LastUsedAt) >= touchEvery {
		// Best effort: a failed bookkeeping write does not refuse the request.
		_ = s.deps.Registry.TouchToken(ctx, t.ID, now)
	}
	return u, nil
}

// CanAddBenchmarks reports whether u may add benchmarks (maintainers only).
func CanAddBenchmarks(u User) bool { return u.Role == RoleMaintainer }

// Metadata is what a submitter says about the model.
type Metadata struct {
	Name         string
	Version      string
	Family       string
	TrainingData string
	// Preprocessing is the spec in models.ParseSpec's text form: a builtin
	// name ("imagenet_nchw") with optional overrides, or key=value pairs.
	Preprocessing string
	// Commitments declares the model's layer per brain region (issue 16):
	// "IT=L062.Conv,V4=L040.Add" (models.ParseCommitments) or the JSON
	// object {"IT": "L062.Conv"}; empty: none. Layers are layer ids, or
	// tensor or node names resolved to ids. Part of the model entry.
	Commitments string
	About       // paper, description, licence, BibTeX (issue 17)
}

// parseCommitments reads Metadata.Commitments in either form.
func parseCommitments(text string) (map[string]string, error) {
	t := strings.TrimSpace(text)
	if !strings.HasPrefix(t, "{") {
		return models.ParseCommitments(t)
	}
	var c map[string]string
	if err := json.Unmarshal([]byte(t), &c); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object of region to layer id (%v); send e.g. {\"IT\": \"L062.Conv\"} or IT=L062.Conv,V4=L040.Add", models.ErrCommitments, err)
	}
	if len(c) == 0 {
		return nil, nil
	}
	return c, models.CheckCommitments(c)
}

// CheckQuota returns an ELIMIT error when u has used up today's
// submissions, so an API can refuse before reading an upload.
func (s *Service) CheckQuota(ctx context.Context, u User) error {
	if s.cfg.DailyLimit <= 0 {
		return nil
	}
	n, err := s.deps.Registry.CountSubmissions(ctx, u.Name, record.Day(s.deps.Now()))
	if err != nil {
		return err
	}
	if n >= s.cfg.DailyLimit {
		return s.limitError()
	}
	return nil
}

// Submit validates the staged model file and its metadata, and when both
// are good stores the file (streamed from disk), then records the
// submission and queues one job per benchmark in one transaction. Nothing is stored when anything is
// wrong: the *Error lists every problem. The caller removes the file.
//
// The model entry is (file, preprocessing spec, declared commitments), its
// ID models.EntryIDFor(file sha256, spec, commitments). When the entry exists (whoever
// submitted it), nothing about it changes: its name and metadata stay; only
// the benchmarks it has neither a score nor a queued or running job for
// are queued, and when there is none the answer is an ECONFLICT error
// naming the existing entry, with nothing stored or queued.
func (s *Service) Submit(ctx context.Context, u User, meta Metadata, file Upload) (Submission, error) {
	if s.deps.Models == nil || s.deps.Queue == nil {
		return Submission{}, errors.New("submissions: submitting needs a model store and a queue")
	}
	now := s.deps.Now().UTC()
	if err := s.CheckQuota(ctx, u); err != nil {
		return Submission{}, err
	}
	probs := s.checkMetadata(meta)
	checked, err := s.validator.ValidateFile(ctx, file.Path)
	var ve *models.ValidationError
	switch {
	case errors.Is(err, onnxmodel.ErrBusy):
		return Submission{}, &Error{Code: EUNAVAILABLE, Message: "too many models are being validated right now: nothing was stored, retry in a minute"}
	case errors.As(err, &ve):
		for _, p := range ve.Problems {
			probs = append(probs, Problem{Field: "file", Kind: kindName(p.Kind), Message: p.Msg})
		}
		if errors.Is(err, models.ErrTooLarge) {
			return Submission{}, &Error{Code: ETOOLARGE, Message: "the model file is too large", Problems: probs}
		}
	case err != nil:
		return Submission{}, fmt.Errorf("validate model: %w", err)
	case file.SHA256 != "" && checked.SHA256 != file.SHA256:
		return Submission{}, fmt.Errorf("validate model: the staged file changed (sha256 %s, staged as %s)", checked.SHA256, file.SHA256)
	}
	var spec models.Spec
	var warnings []string
	if checked != nil && len(meta.Preprocessing) <= s.cfg.MaxSpecBytes {
		probs = append(probs, s.checkSpec(checked, meta.Preprocessing, &spec, &warnings)...)
	}
	var commitments map[string]string
	if len(meta.Commitments) <= s.cfg.MaxSpecBytes {
		commitments, err = parseCommitments(meta.Commitments)
		// The layers as the graph gives them (onnxmodel.Layers, no
		// runtime): ids, tensor and node names. A layer ONNX Runtime later
		// finds not to depend on the image is refused by the scoring job.
		if err == nil && checked != nil && len(commitments) > 0 {
			var layers []models.Layer
			if layers, err = onnxmodel.Layers(checked.Model); err != nil {
				return Submission{}, fmt.Errorf("enumerate the model's layers: %w", err)
			}
			commitments, err = models.ResolveCommitments(layers, commitments)
		}
		if err != nil {
			probs = append(probs, Problem{Field: "commitments", Kind: "bad commitments", Message: err.Error()})
		}
	}
	if len(probs) > 0 {
		return Submission{}, &Error{Code: EINVALID, Message: fmt.Sprintf("the submission was refused (%d problem(s)); nothing was stored", len(probs)), Problems: probs}
	}

	targets, err := s.deps.Registry.ListBenchmarks(ctx, registry.BenchmarkFilter{LatestOnly: true})
	if err != nil {
		return Submission{}, err
	}
	if len(targets) == 0 {
		return Submission{}, Errorf(EUNAVAILABLE, "there is no benchmark to score against yet; nothing was stored: ask a maintainer to add one")
	}
	id, err := newID()
	if err != nil {
		return Submission{}, err
	}
	entryID := models.EntryIDFor(checked.SHA256, spec, commitments)
	modelName := meta.Name
	existing, err := s.deps.Registry.GetModel(ctx, entryID)
	switch {
	case err == nil:
		// A withdrawn entry stays withdrawn: it is not scored again.
		if w, werr := s.deps.Registry.GetWithdrawal(ctx, entryID); werr == nil {
			return Submission{}, Errorf(ECONFLICT, "this model file with this preprocessing spec is registered as %q (model %s) and was withdrawn on %s by %s%s: "+
				"nothing was stored or queued. A withdrawn entry is not scored again; to score the file again, submit it with another spec (a new entry)",
				existing.Name, entryID, w.At.Format("2006-01-02"), w.By, reasonSuffix(w.Reason))
		} else if !registry.IsNotFound(werr) {
			return Submission{}, werr
		}
		// Another submission of this entry: queue only what it lacks.
		var scored, pending int
		if targets, scored, pending, err = s.uncovered(ctx, entryID, targets); err != nil {
			return Submission{}, err
		}
		if len(targets) == 0 {
			what := "this model file with this preprocessing spec"
			if len(commitments) > 0 {
				what += " and layer commitments " + models.CommitmentsString(commitments)
			}
			return Submission{}, Errorf(ECONFLICT, "%s is already registered as %q (model %s): "+
				"%d benchmark(s) scored, %d queued or running, none missing, so nothing was stored or queued. "+
				"To score the file with other preprocessing, submit it with another spec (a new entry)", what, existing.Name, entryID, scored, pending)
		}
		modelName = existing.Name
	case !registry.IsNotFound(err):
		return Submission{}, err
	}
	est := s.estimate(checked, targets)
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return Submission{}, fmt.Errorf("encode spec: %w", err)
	}
	sub := Submission{ID: id, Owner: u.Name, ModelHash: entryID, ModelName: modelName,
		EstSeconds: est.Seconds, EstBytes: est.Bytes, CreatedAt: now}
	for _, b := range targets {
		sub.Jobs = append(sub.Jobs, SubmissionJob{BenchmarkID: b.ID, BenchmarkVersion: b.Version})
	}
	// An existing row (this entry submitted before) is kept as it is.
	model := registry.Model{Hash: entryID, File: checked.SHA256, Name: meta.Name, Version: meta.Version, Family: meta.Family,
		TrainingData: meta.TrainingData, Params: checked.Parameters, Preprocessing: specJSON, Owner: u.Name, CreatedAt: now}
	// The entry's layer count, as 'models add' and 'score' record it (the
	// graph's layers; ONNX Runtime only adds their shapes): a submitted
	// entry listed with 0 layers misled (issue 17, finding 3).
	layers, err := onnxmodel.Layers(checked.Model)
	if err != nil {
		return Submission{}, fmt.Errorf("enumerate the model's layers: %w", err)
	}
	md := models.Metadata{ID: entryID, File: checked.SHA256, Name: meta.Name, Version: meta.Version, Family: meta.Family,
		TrainingData: meta.TrainingData, Parameters: checked.Parameters, FileBytes: file.Size, Opset: checked.Opset,
		Input: checked.Input, Outputs: checked.Outputs, Spec: spec, Commitments: commitments, Layers: len(layers)}
	// The file (and the entry's metadata) first, then the rows and the
	// jobs in one transaction, so a committed job always finds its model
	// and a crash anywhere leaves either nothing or at most a stored model
	// no submission refers to (harmless: content addressed, and the next
	// submission of it reuses it). A submission racing another over the
	// daily limit is refused by the transaction after its file was stored:
	// the same harmless leftover.
	s.storeMu.Lock()
	// An existing entry's metadata is kept (Add writes nothing then).
	err = addFile(ctx, s.deps.Models, md, file.Path)
	s.storeMu.Unlock()
	if err != nil {
		return Submission{}, fmt.Errorf("submission %s: store the model file: %w", id, err)
	}
	model.Paper, model.Description, model.License, model.BibTeX = meta.Paper, meta.Description, meta.License, meta.BibTeX
	jobs := make([]JobSpec, len(sub.Jobs))
	for i, j := range sub.Jobs {
		jobs[i] = JobSpec{SubmissionID: id, ModelHash: entryID, FileHash: checked.SHA256, Spec: spec.String(),
			BenchmarkID: j.BenchmarkID, BenchmarkVersion: j.BenchmarkVersion}
	}
	enqueue := func(ctx context.Context, tx *sql.Tx) error {
		if q, ok := s.deps.Queue.(TxQueue); ok {
			return q.EnqueueTx(ctx, tx, jobs)
		}
		// A queue outside the database (tests' fakes): queued before the
		// commit, so a failure still records nothing.
		return s.deps.Queue.Enqueue(ctx, jobs)
	}
	if err := s.deps.Registry.CreateSubmissionWith(ctx, sub, model, max(s.cfg.DailyLimit, 0), enqueue); err != nil {
		if errors.Is(err, registry.ErrLimit) {
			return Submission{}, s.limitError()
		}
		return Submission{}, fmt.Errorf("submission %s: %w", id, err)
	}
	stored, err := s.deps.Registry.GetSubmission(ctx, id)
	stored.Warnings = warnings
	return stored, err
}

// reasonSuffix is ": reason" for a withdrawal's reason, "" without one.
func reasonSuffix(reason string) string {
	if strings.TrimSpace(reason) == "" {
		return ""
	}
	return ": " + reason
}

// addFile streams the file at path into the model store.
func addFile(ctx context.Context, store ModelStore, md models.Metadata, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open staged model: %w", err)
	}
	defer f.Close()
	_, _, err = store.Add(ctx, md, f)
	return err
}

// uncovered returns the targets the entry has neither a score (of this
// scorer version) nor a queued or running job for, and how many targets
// are scored and how many queued or running.
func (s *Service) uncovered(ctx context.Context, entryID string, targets []registry.Benchmark) (out []registry.Benchmark, scored, pending int, err error) {
	const isScored, isPending = 1, 2
	state := map[string]int{}
	scores, err := s.deps.Registry.ListScores(ctx, registry.ScoreFilter{ModelHash: entryID, ScorerVersion: scoring.ScorerVersion, WithoutLayers: true})
	if err != nil {
		return nil, 0, 0, err
	}
	for _, sc := range scores {
		state[sc.BenchmarkID+"@"+sc.BenchmarkVersion] = isScored
	}
	jobs, err := s.deps.Registry.PendingJobs(ctx, entryID)
	if err != nil {
		return nil, 0, 0, err
	}
	for _, j := range jobs {
		if k := j.BenchmarkID + "@" + j.BenchmarkVersion; state[k] == 0 {
			state[k] = isPending
		}
	}
	for _, b := range targets {
		switch state[b.ID+"@"+b.Version] {
		case isScored:
			scored++
		case isPending:
			pending++
		default:
			out = append(out, b)
		}
	}
	return out, scored, pending, nil
}

func (s *Service) limitError() error {
	return Errorf(ELIMIT, "the daily limit of %d submissions is reached: try again after midnight UTC", s.cfg.DailyLimit)
}

func (s *Service) checkMetadata(m Metadata) []Problem {
	var probs []Problem
	field := func(name, v string, required bool, limit int) {
		switch {
		case required && strings.TrimSpace(v) == "":
			probs = append(probs, Problem{Field: name, Kind: "missing", Message: fmt.Sprintf("%s is required", name)})
		case len(v) > limit:
			probs = append(probs, Problem{Field: name, Kind: "too long", Message: fmt.Sprintf("%s is %d bytes, over the limit of %d: shorten it", name, len(v), limit)})
		case !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			probs = append(probs, Problem{Field: name, Kind: "bad characters", Message: fmt.Sprintf("%s must be UTF-8 text without control characters", name)})
		}
	}
	field("name", m.Name, true, s.cfg.MaxNameBytes)
	field("version", m.Version, false, s.cfg.MaxNameBytes)
	field("family", m.Family, false, s.cfg.MaxNameBytes)
	field("training_data", m.TrainingData, false, s.cfg.MaxNameBytes)
	field("preprocessing", m.Preprocessing, false, s.cfg.MaxSpecBytes)
	field("commitments", m.Commitments, false, s.cfg.MaxSpecBytes)
	return append(probs, checkAbout(m.About)...)
}

// checkSpec parses the spec and checks it against the model's input. An
// empty spec is the model's default (onnxmodel.DefaultSpec: "imagenet" for
// a 3-channel NCHW float input, said in a warning) or, for other inputs, a
// problem giving specs that fit. A spec's implausible values are warnings
// (models.Spec.Warnings).
func (s *Service) checkSpec(c *onnxmodel.Checked, text string, out *models.Spec, warnings *[]string) []Problem {
	var spec models.Spec
	if strings.TrimSpace(text) == "" {
		def, name, err := onnxmodel.DefaultSpec(c)
		if err != nil {
			return []Problem{{Field: "preprocessing", Kind: "missing", Message: err.Error()}}
		}
		spec = def
		*warnings = append(*warnings, onnxmodel.DefaultNote(name, "a preprocessing spec"))
	} else {
		var err error
		if spec, err = models.ParseSpec(text); err != nil {
			return []Problem{{Field: "preprocessing", Kind: kindName(models.ErrBadSpec), Message: err.Error()}}
		}
		*warnings = append(*warnings, onnxmodel.SpecWarnings(c, spec)...)
	}
	var probs []Problem
	var ve *models.ValidationError
	if err := onnxmodel.CheckSpec(c, spec); errors.As(err, &ve) {
		for _, p := range ve.Problems {
			probs = append(probs, Problem{Field: "preprocessing", Kind: kindName(p.Kind), Message: p.Msg})
		}
	} else if err != nil {
		probs = append(probs, Problem{Field: "preprocessing", Kind: kindName(models.ErrSpec), Message: err.Error()})
	}
	*out = spec
	return probs
}

func kindName(kind error) string {
	if kind == nil {
		return "invalid"
	}
	return kind.Error()
}

func (s *Service) estimate(c *onnxmodel.Checked, targets []registry.Benchmark) Estimate {
	in := EstimateInput{Params: c.Parameters}
	if len(c.Input.Shape) == 4 {
		in.Height, in.Width = c.Input.Shape[2], c.Input.Shape[3]
		if c.Layout == models.NHWC {
			in.Height, in.Width = c.Input.Shape[1], c.Input.Shape[2]
		}
	}
	if layers, err := onnxmodel.Layers(c.Model); err == nil {
		for _, l := range layers {
			if l.PerStimulus || len(l.Shape) == 0 {
				in.LayerFeatures = append(in.LayerFeatures, l.Features())
			}
		}
		in.Layers = len(layers)
	}
	for _, b := range targets {
		in.Stimuli = append(in.Stimuli, stimuliOf(b))
		in.Benchmarks = append(in.Benchmarks, benchmarkCostOf(b))
	}
	return EstimateCost(in)
}

// stimuliOf reads the stimulus count a benchmark's metadata declares
// ("stimuli"); 0 (DefaultStimuli assumed) when it does not.
func stimuliOf(b registry.Benchmark) int {
	var m struct {
		Stimuli int `json:"stimuli"`
	}
	if len(b.Metadata) > 0 && json.Unmarshal(b.Metadata, &m) == nil {
		return m.Stimuli
	}
	return 0
}

func newID() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new submission id: %w", err)
	}
	return "sub_" + hex.EncodeToString(b[:]), nil
}

// Get returns a submission's status; only its owner and maintainers may
// see it.
func (s *Service) Get(ctx context.Context, u User, id string) (Status, error) {
	sub, err := s.deps.Registry.GetSubmission(ctx, id)
	if registry.IsNotFound(err) {
		return Status{}, Errorf(ENOTFOUND, "no submission %q", id)
	}
	if err != nil {
		return Status{}, err
	}
	if sub.Owner != u.Name && u.Role != RoleMaintainer {
		return Status{}, Errorf(EFORBIDDEN, "submission %s is not yours", id)
	}
	return StatusOf(sub), nil
}

// List returns the user's submissions, newest first.
func (s *Service) List(ctx context.Context, u User, limit int) ([]Status, error) {
	subs, err := s.deps.Registry.ListSubmissions(ctx, u.Name, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Status, len(subs))
	for i, sub := range subs {
		out[i] = StatusOf(sub)
	}
	return out, nil
}

// ResolveModel returns the full id of the model entry whose id is id or
// starts with id (at least registry.MinIDPrefix hex digits, issue 17):
// ENOTFOUND when none, ECONFLICT listing the candidates when several,
// EINVALID when id is not hex.
func (s *Service) ResolveModel(ctx context.Context, id string) (string, error) {
	full, err := s.deps.Registry.ResolveModelID(ctx, id)
	var amb *registry.AmbiguousError
	switch {
	case err == nil:
		return full, nil
	case errors.As(err, &amb):
		e := Errorf(ECONFLICT, "%s", amb.Error())
		for _, m := range amb.Candidates {
			e.Problems = append(e.Problems, Problem{Field: "id", Kind: "candidate", Message: m.Hash + " " + m.Name})
		}
		return "", e
	case registry.IsNotFound(err):
		return "", Errorf(ENOTFOUND, "no model %q: list them with 'cortexbench models list' or at /api/v1/models", id)
	case errors.Is(err, registry.ErrInvalidArgument):
		return "", Errorf(EINVALID, "model id %q: give the entry's id or a unique prefix of at least %d hex digits", id, registry.MinIDPrefix)
	}
	return "", err
}

// ownedModel returns the model when u may change it: its owner or a
// maintainer. id may be a unique prefix of the entry's id.
func (s *Service) ownedModel(ctx context.Context, u User, id string) (registry.Model, error) {
	hash, err := s.ResolveModel(ctx, id)
	if err != nil {
		return registry.Model{}, err
	}
	m, err := s.deps.Registry.GetModel(ctx, hash)
	if registry.IsNotFound(err) || errors.Is(err, registry.ErrInvalidArgument) {
		return m, Errorf(ENOTFOUND, "no model %q", id)
	}
	if err != nil {
		return m, err
	}
	if m.Owner != u.Name && u.Role != RoleMaintainer {
		return m, Errorf(EFORBIDDEN, "model %s is not yours: only its owner or a maintainer may change or withdraw it", hash)
	}
	return m, nil
}

// Withdrawn is what Withdraw did.
type Withdrawn struct {
	Model registry.Model
	// Withdrawal is the record: the first one when the model had been
	// withdrawn before (withdrawing twice keeps it).
	Withdrawal registry.Withdrawal
	// Submissions had jobs cancelled; CancelledJobs counts them.
	Submissions   []string
	CancelledJobs int
}

// WithdrawnMessage is the message of a job cancelled because its model
// was withdrawn; its submission's status reads "cancelled (model
// withdrawn)".
const WithdrawnMessage = "cancelled (model withdrawn)"

// Canceller is a Queue that can also cancel a submission's jobs in the
// queue itself (riverqueue does: a queued job is never fetched, a running
// one has its context cancelled). Cancelling in the registry is what
// counts (workers look at it, see Executor.CancelCheck); the queue's
// cancel makes it prompt.
type Canceller interface {
	CancelSubmission(ctx context.Context, submissionID string) (int, error)
}

// cancelQueued cancels the submissions' jobs in the queue, when it can.
// The registry already has them cancelled: a failure here only delays the
// workers' noticing, so it is returned for logging, never undone.
func (s *Service) cancelQueued(ctx context.Context, subs []string) error {
	c, ok := s.deps.Queue.(Canceller)
	if !ok {
		return nil
	}
	var errs []error
	for _, id := range subs {
		if _, err := c.CancelSubmission(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Withdraw withdraws a model from the leaderboard (owner or maintainer):
// it leaves every listing and snapshot (leaderboard/stores reads the
// withdrawals), and every queued or running job of it is cancelled. id
// may be a unique prefix of the entry's id. Withdrawing twice keeps the
// first record and cancels what is open.
func (s *Service) Withdraw(ctx context.Context, u User, id, reason string) (Withdrawn, error) {
	m, err := s.ownedModel(ctx, u, id)
	if err != nil {
		return Withdrawn{}, err
	}
	if len(reason) > s.cfg.MaxSpecBytes {
		return Withdrawn{}, Errorf(EINVALID, "the reason is %d bytes, over the limit of %d: shorten it", len(reason), s.cfg.MaxSpecBytes)
	}
	if !utf8.ValidString(reason) || strings.ContainsFunc(reason, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return Withdrawn{}, Errorf(EINVALID, "the reason must be UTF-8 text without control characters")
	}
	if err := s.deps.Registry.WithdrawModel(ctx, m.Hash, u.Name, reason); err != nil {
		return Withdrawn{}, err
	}
	out := Withdrawn{Model: m}
	if out.Withdrawal, err = s.deps.Registry.GetWithdrawal(ctx, m.Hash); err != nil {
		return out, err
	}
	if out.Submissions, out.CancelledJobs, err = s.deps.Registry.CancelModelJobs(ctx, m.Hash, WithdrawnMessage); err != nil {
		return out, err
	}
	// The withdrawal and the cancellation are recorded; the queue's
	// cancel only makes the workers notice sooner.
	_ = s.cancelQueued(context.WithoutCancel(ctx), out.Submissions)
	return out, nil
}

// Cancel cancels a submission's queued and running jobs (its owner or a
// maintainer); the status it returns reads cancelled. A submission with
// no open job is ECONFLICT (nothing to cancel), naming its state.
func (s *Service) Cancel(ctx context.Context, u User, id string) (Status, error) {
	st, err := s.Get(ctx, u, id)
	if err != nil {
		return st, err
	}
	n, err := s.deps.Registry.CancelJobs(ctx, id, "cancelled by "+u.Name)
	if err != nil {
		return st, err
	}
	if n == 0 {
		return st, Errorf(ECONFLICT, "submission %s has no queued or running job to cancel: it is %s", id, st.State)
	}
	_ = s.cancelQueued(context.WithoutCancel(ctx), []string{id})
	return s.Get(ctx, u, id)
}

// ModelChange holds the metadata to change; nil fields stay as they are.
type ModelChange struct {
	Name, Version, Family, TrainingData *string
	Paper, Description, License, BibTeX *string // issue 17; "" clears
}

// UpdateModel changes a model's descriptive metadata (owner or
// maintainer); the file, and so the hash and the scores, never change.
// id may be a unique prefix of the entry's id.
func (s *Service) UpdateModel(ctx context.Context, u User, id string, c ModelChange) (registry.Model, error) {
	m, err := s.ownedModel(ctx, u, id)
	if err != nil {
		return m, err
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&m.Name, c.Name)
	set(&m.Version, c.Version)
	set(&m.Family, c.Family)
	set(&m.TrainingData, c.TrainingData)
	set(&m.Paper, c.Paper)
	set(&m.Description, c.Description)
	set(&m.License, c.License)
	set(&m.BibTeX, c.BibTeX)
	probs := s.checkMetadata(Metadata{Name: m.Name, Version: m.Version, Family: m.Family, TrainingData: m.TrainingData,
		About: About{Paper: m.Paper, Description: m.Description, License: m.License, BibTeX: m.BibTeX}})
	if len(probs) > 0 {
		return m, &Error{Code: EINVALID, Message: "the change was refused", Problems: probs}
	}
	// The entry's metadata in the model store first ('models list' reads
	// it), then the database's record (the API and the page read it): one
	// name everywhere (issue 17, finding 3). An entry the store never held
	// (recorded by an older version) has only the database's.
	if d, ok := s.deps.Models.(Describer); ok {
		s.storeMu.Lock()
		_, err := d.Describe(ctx, m.Hash, models.Description{Name: m.Name, Version: m.Version, Family: m.Family, TrainingData: m.TrainingData})
		s.storeMu.Unlock()
		if err != nil && !models.IsNotFound(err) {
			return m, fmt.Errorf("change model %s: %w", m.Hash, err)
		}
	}
	if err := s.deps.Registry.PutModel(ctx, m); err != nil {
		return m, err
	}
	return m, nil
}

// Describer is a ModelStore whose entries' descriptive metadata can be
// changed (models.Registry).
type Describer interface {
	Describe(ctx context.Context, id string, d models.Description) (models.Metadata, error)
}
