// Package registry is cortexbench's registry database through gorm: the
// models that were submitted, the benchmarks and their versions, and every
// score. SQLite (pure-Go driver, one file) is the embedded default;
// PostgreSQL is used when a DSN is configured. gorm stays inside this
// package: callers see scoring.Score and the plain Model and Benchmark
// types, never a row type.
//
// The schema is created and upgraded by numbered migrations recorded in the
// schema_migrations table (see migrations.go); Open applies the missing ones.
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"github.com/cortexbench/cortexbench/scoring"
)

// Sentinel errors, wrapped with %w.
var (
	ErrNotFound        = errors.New("not found")
	ErrInvalidArgument = errors.New("invalid argument")
)

// IsNotFound reports whether err means the record does not exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// DefaultSQLitePath is where the embedded default keeps its database.
const DefaultSQLitePath = ".cortexbench/registry.db"

// Config selects the database.
type Config struct {
	// PostgresDSN, when set, selects PostgreSQL, e.g.
	// "postgres://user:pass@127.0.0.1:5432/cortexbench?sslmode=disable".
	PostgresDSN string
	// SQLitePath is the SQLite file used when PostgresDSN is empty; its
	// folder is created if missing. Default DefaultSQLitePath.
	SQLitePath string
	// BusyTimeout is how long a SQLite writer waits for another's lock.
	// Default 5s.
	BusyTimeout time.Duration
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.PostgresDSN == "" && c.SQLitePath == "" {
		c.SQLitePath = DefaultSQLitePath
	}
	if c.BusyTimeout == 0 {
		c.BusyTimeout = 5 * time.Second
	}
	return c
}

// Validate reports what is wrong with c (after WithDefaults).
func (c Config) Validate() error {
	switch {
	case c.PostgresDSN != "" && c.SQLitePath != "":
		return errors.New("registry config: set either a PostgreSQL DSN or a SQLite path, not both")
	case c.PostgresDSN == "" && c.SQLitePath == "":
		return errors.New("registry config: set a PostgreSQL DSN or a SQLite path")
	case c.BusyTimeout < 0:
		return fmt.Errorf("registry config: busy timeout %v is negative", c.BusyTimeout)
	case strings.ContainsAny(c.SQLitePath, "?#"):
		return fmt.Errorf("registry config: SQLite path %q must be a plain file path", c.SQLitePath)
	}
	return nil
}

// Registry is the registry database. It is safe for concurrent use.
type Registry struct {
	db       *gorm.DB
	postgres bool
}

// Open connects to the database chosen by cfg (defaults applied) and applies
// any missing migrations.
func Open(ctx context.Context, cfg Config) (*Registry, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	gcfg := &gorm.Config{Logger: logger.Discard, TranslateError: true, NowFunc: func() time.Time { return time.Now().UTC() }}
	var (
		db  *gorm.DB
		err error
		r   = &Registry{postgres: cfg.PostgresDSN != ""}
	)
	if r.postgres {
		db, err = gorm.Open(postgres.Open(cfg.PostgresDSN), gcfg)
		if err != nil {
			return nil, fmt.Errorf("registry: connect to PostgreSQL: %w", err)
		}
	} else {
		if err := os.MkdirAll(filepath.Dir(cfg.SQLitePath), 0o755); err != nil {
			return nil, fmt.Errorf("registry: create folder for %s: %w", cfg.SQLitePath, err)
		}
		if err := createPrivate(cfg.SQLitePath); err != nil {
			return nil, err
		}
		dsn := fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)",
			cfg.SQLitePath, cfg.BusyTimeout.Milliseconds())
		db, err = gorm.Open(sqlite.Open(dsn), gcfg)
		if err != nil {
			return nil, fmt.Errorf("registry: open SQLite %s: %w", cfg.SQLitePath, err)
		}
		// One writer at a time is all SQLite allows; a single connection
		// turns lock contention into queueing instead of SQLITE_BUSY.
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.SetMaxOpenConns(1)
		}
	}
	r.db = db
	if err := r.migrate(ctx); err != nil {
		r.Close()
		return nil, err
	}
	if !r.postgres {
		// SQLite gives its -wal and -shm files the database file's mode;
		// tighten them anyway, and an older database created 0644.
		privateFiles(cfg.SQLitePath, cfg.SQLitePath+"-wal", cfg.SQLitePath+"-shm")
	}
	return r, nil
}

// createPrivate creates the SQLite file with mode 0600 when it is absent,
// before SQLite opens it: the registry holds users and token hashes.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("registry: create %s: %w", path, err)
	}
	return f.Close()
}

// privateFiles sets mode 0600 on the files that exist, best effort (a
// file owned by another user keeps its mode).
func privateFiles(paths ...string) {
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o077 != 0 {
			_ = os.Chmod(p, 0o600)
		}
	}
}

// Close closes the connection pool.
func (r *Registry) Close() error {
	sqlDB, err := r.db.DB()
	if err != nil {
		return fmt.Errorf("registry: close: %w", err)
	}
	return sqlDB.Close()
}

// Dialect returns "postgres" or "sqlite".
func (r *Registry) Dialect() string {
	if r.postgres {
		return "postgres"
	}
	return "sqlite"
}

// Model is a model entry: an ONNX file with one preprocessing spec. Hash
// is the entry's ID (models.EntryID of the file's sha256 and the spec, 64
// lowercase hex digits); File is the sha256 of the ONNX file. The same file
// with another spec is another entry. Entries recorded before migration 5
// were keyed by the file's sha256: their File is their Hash.
type Model struct {
	Hash         string // the entry ID (see models.EntryID)
	File         string // lowercase hex sha256 of the ONNX file
	Name         string
	Version      string
	Family       string // e.g. "resnet", "vit"
	TrainingData string // e.g. "ImageNet-1k"
	Params       int64  // number of parameters; 0 when unknown
	// Preprocessing is the model's preprocessing spec as JSON (resize, crop,
	// normalisation, layout); nil when none.
	Preprocessing json.RawMessage
	Owner         string
	CreatedAt     time.Time // set on first put; kept by later puts
	// What the submitter says about the model, for people (issue 17):
	// a paper's https URL, a description, a licence (SPDX id or free
	// text) and a BibTeX entry; each "" when not given. Checked by
	// package submissions.
	Paper, Description, License, BibTeX string
}

// Benchmark is one version of a benchmark.
type Benchmark struct {
	ID      string // e.g. "algonauts2019-92.IT"
	Version string // content hash of the benchmark's data and settings
	Parent  string // the group it is averaged under, e.g. "IT"
	Private bool   // data withheld: only counts and the ceiling are published
	// Metadata is free-form JSON (region, species, method, ceiling,
	// citation, ...); nil when none.
	Metadata  json.RawMessage
	CreatedAt time.Time // set on first put; kept by later puts
}

// ScoreKey identifies a score: a result is recomputed, never mixed, when the
// benchmark's data or the scoring code changes.
type ScoreKey struct {
	ModelHash        string
	BenchmarkVersion string
	ScorerVersion    string
}

// ScoreFilter selects scores; empty fields match everything.
type ScoreFilter struct {
	ModelHash        string
	BenchmarkID      string
	BenchmarkVersion string
	ScorerVersion    string
	// WithoutLayers leaves Score.Layers nil, which makes listing every
	// score for a leaderboard much cheaper.
	WithoutLayers bool
}

// ModelFilter selects models; empty fields match everything.
type ModelFilter struct {
	Family string
	Owner  string
}

// BenchmarkFilter selects benchmarks; empty fields match everything.
type BenchmarkFilter struct {
	ID string
	// LatestOnly keeps only the most recently created version of each ID.
	LatestOnly bool
	// PublicOnly leaves out private benchmarks.
	PublicOnly bool
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidArgument}, args...)...)
}

func checkModelHash(h string) error {
	if !sha256Hex.MatchString(h) {
		return invalid("model hash %q must be 64 lowercase hex digits (the model entry's id)", h)
	}
	return nil
}

// checkFileHash allows an empty file hash (a caller that does not know it:
// the column keeps ”), else 64 lowercase hex digits.
func checkFileHash(h string) error {
	if h != "" && !sha256Hex.MatchString(h) {
		return invalid("file hash %q must be 64 lowercase hex digits (the sha256 of the ONNX file)", h)
	}
	return nil
}

func checkJSON(what string, raw json.RawMessage) error {
	if len(raw) > 0 && !json.Valid(raw) {
		return invalid("%s is not valid JSON", what)
	}
	return nil
}

// PutModel creates the model or updates its descriptive metadata (name,
// version, family, training data, params, preprocessing, owner, paper,
// description, licence, BibTeX); CreatedAt
// and File of an existing model are kept. Use CreateModel to record an
// entry without changing an existing one.
func (r *Registry) PutModel(ctx context.Context, m Model) error {
	if err := checkModelHash(m.Hash); err != nil {
		return fmt.Errorf("registry: put model: %w", err)
	}
	if err := checkFileHash(m.File); err != nil {
		return fmt.Errorf("registry: put model %s: %w", m.Hash, err)
	}
	if m.Name == "" {
		return fmt.Errorf("registry: put model %s: %w", m.Hash, invalid("name is empty"))
	}
	if err := checkJSON("preprocessing spec", m.Preprocessing); err != nil {
		return fmt.Errorf("registry: put model %s: %w", m.Hash, err)
	}
	row := modelToRow(m)
	err := r.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "hash"}},
		DoUpdates: clause.AssignmentColumns([]string{"name", "version", "family", "training_data", "params", "preprocessing", "owner",
			"paper", "description", "license", "bib_tex"}),
	}).Create(&row).Error
	if err != nil {
		return fmt.Errorf("registry: put model %s: %w", m.Hash, err)
	}
	return nil
}

// CreateModel records the model unless a model with its hash exists, and
// returns the stored record: the existing one (created false), whose
// metadata is left as it was, or m (created true).
func (r *Registry) CreateModel(ctx context.Context, m Model) (Model, bool, error) {
	if err := checkModelHash(m.Hash); err != nil {
		return m, false, fmt.Errorf("registry: create model: %w", err)
	}
	if err := checkFileHash(m.File); err != nil {
		return m, false, fmt.Errorf("registry: create model %s: %w", m.Hash, err)
	}
	if m.Name == "" {
		return m, false, fmt.Errorf("registry: create model %s: %w", m.Hash, invalid("name is empty"))
	}
	if err := checkJSON("preprocessing spec", m.Preprocessing); err != nil {
		return m, false, fmt.Errorf("registry: create model %s: %w", m.Hash, err)
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now().UTC()
	}
	row := modelToRow(m)
	res := r.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
	if res.Error != nil {
		return m, false, fmt.Errorf("registry: create model %s: %w", m.Hash, res.Error)
	}
	got, err := r.GetModel(ctx, m.Hash)
	if err != nil {
		return m, false, err
	}
	return got, res.RowsAffected > 0, nil
}

// GetModel returns the model with the given hash.
func (r *Registry) GetModel(ctx context.Context, hash string) (Model, error) {
	if err := checkModelHash(hash); err != nil {
		return Model{}, fmt.Errorf("registry: get model: %w", err)
	}
	var row modelRow
	err := r.db.WithContext(ctx).Where("hash = ?", hash).Take(&row).Error
	if err != nil {
		return Model{}, fmt.Errorf("registry: get model %s: %w", hash, notFound(err))
	}
	return row.toModel(), nil
}

// ListModels returns the models matching f, by name then hash.
func (r *Registry) ListModels(ctx context.Context, f ModelFilter) ([]Model, error) {
	q := r.db.WithContext(ctx).Order("name, hash")
	if f.Family != "" {
		q = q.Where("family = ?", f.Family)
	}
	if f.Owner != "" {
		q = q.Where("owner = ?", f.Owner)
	}
	var rows []modelRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("registry: list models: %w", err)
	}
	out := make([]Model, len(rows))
	for i, row := range rows {
		out[i] = row.toModel()
	}
	return out, nil
}

// PutBenchmark creates the benchmark version or updates its metadata;
// CreatedAt of an existing version is kept.
func (r *Registry) PutBenchmark(ctx context.Context, b Benchmark) error {
	if b.ID == "" || b.Version == "" {
		return fmt.Errorf("registry: put benchmark: %w", invalid("id %q and version %q must both be set", b.ID, b.Version))
	}
	if err := checkJSON("metadata", b.Metadata); err != nil {
		return fmt.Errorf("registry: put benchmark %s@%s: %w", b.ID, b.Version, err)
	}
	row := benchmarkToRow(b)
	err := r.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "id"}, {Name: "version"}},
		DoUpdates: clause.AssignmentColumns([]string{"parent", "private", "metadata"}),
	}).Create(&row).Error
	if err != nil {
		return fmt.Errorf("registry: put benchmark %s@%s: %w", b.ID, b.Version, err)
	}
	return nil
}

// GetBenchmark returns one version of a benchmark.
func (r *Registry) GetBenchmark(ctx context.Context, id, version string) (Benchmark, error) {
	var row benchmarkRow
	err := r.db.WithContext(ctx).Where("id = ? AND version = ?", id, version).Take(&row).Error
	if err != nil {
		return Benchmark{}, fmt.Errorf("registry: get benchmark %s@%s: %w", id, version, notFound(err))
	}
	return row.toBenchmark(), nil
}

// ListBenchmarks returns the benchmarks matching f, by ID then creation.
func (r *Registry) ListBenchmarks(ctx context.Context, f BenchmarkFilter) ([]Benchmark, error) {
	q := r.db.WithContext(ctx).Order("id, created_at, version")
	if f.ID != "" {
		q = q.Where("id = ?", f.ID)
	}
	if f.PublicOnly {
		q = q.Where("private = ?", false)
	}
	var rows []benchmarkRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("registry: list benchmarks: %w", err)
	}
	out := make([]Benchmark, 0, len(rows))
	for i, row := range rows {
		// Rows are ordered by creation within an ID: the last is the latest.
		if f.LatestOnly && i+1 < len(rows) && rows[i+1].ID == row.ID {
			continue
		}
		out = append(out, row.toBenchmark())
	}
	return out, nil
}

func checkScoreKey(k ScoreKey) error {
	if err := checkModelHash(k.ModelHash); err != nil {
		return err
	}
	if k.BenchmarkVersion == "" || k.ScorerVersion == "" {
		return invalid("benchmark version %q and scorer version %q must both be set", k.BenchmarkVersion, k.ScorerVersion)
	}
	return nil
}

// PutScore stores s unless a score with the same key (model hash, benchmark
// version, scorer version) is already there. It is idempotent and safe
// against concurrent writers: the first put wins, and every put returns the
// stored score with created reporting whether this call stored it. A later
// put never overwrites: bump scoring.ScorerVersion to recompute.
// A zero CreatedAt is set to the current time.
func (r *Registry) PutScore(ctx context.Context, s scoring.Score) (stored scoring.Score, created bool, err error) {
	key := ScoreKey{s.ModelHash, s.BenchmarkVersion, s.ScorerVersion}
	if err := checkScoreKey(key); err != nil {
		return scoring.Score{}, false, fmt.Errorf("registry: put score: %w", err)
	}
	if s.BenchmarkID == "" {
		return scoring.Score{}, false, fmt.Errorf("registry: put score: %w", invalid("benchmark id is empty"))
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = time.Now().UTC()
	}
	row, err := scoreToRow(s)
	if err != nil {
		return scoring.Score{}, false, fmt.Errorf("registry: put score %v: %w", key, err)
	}
	res := r.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "model_hash"}, {Name: "benchmark_version"}, {Name: "scorer_version"}},
		DoNothing: true,
	}).Create(&row)
	if res.Error != nil {
		return scoring.Score{}, false, fmt.Errorf("registry: put score %v: %w", key, res.Error)
	}
	stored, err = r.GetScore(ctx, key)
	if err != nil {
		return scoring.Score{}, false, err
	}
	return stored, res.RowsAffected == 1, nil
}

// GetScore returns the score with the given key.
func (r *Registry) GetScore(ctx context.Context, k ScoreKey) (scoring.Score, error) {
	if err := checkScoreKey(k); err != nil {
		return scoring.Score{}, fmt.Errorf("registry: get score: %w", err)
	}
	var row scoreRow
	err := r.db.WithContext(ctx).
		Where("model_hash = ? AND benchmark_version = ? AND scorer_version = ?", k.ModelHash, k.BenchmarkVersion, k.ScorerVersion).
		Take(&row).Error
	if err != nil {
		return scoring.Score{}, fmt.Errorf("registry: get score %v: %w", k, notFound(err))
	}
	return row.toScore()
}

// ListScores returns the scores matching f, by benchmark ID, model hash and
// creation.
func (r *Registry) ListScores(ctx context.Context, f ScoreFilter) ([]scoring.Score, error) {
	q := r.db.WithContext(ctx).Order("benchmark_id, model_hash, created_at, id")
	if f.ModelHash != "" {
		q = q.Where("model_hash = ?", f.ModelHash)
	}
	if f.BenchmarkID != "" {
		q = q.Where("benchmark_id = ?", f.BenchmarkID)
	}
	if f.BenchmarkVersion != "" {
		q = q.Where("benchmark_version = ?", f.BenchmarkVersion)
	}
	if f.ScorerVersion != "" {
		q = q.Where("scorer_version = ?", f.ScorerVersion)
	}
	if f.WithoutLayers {
		q = q.Omit("layers")
	}
	var rows []scoreRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("registry: list scores: %w", err)
	}
	out := make([]scoring.Score, len(rows))
	for i, row := range rows {
		s, err := row.toScore()
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}

// nullable maps NaN, which SQLite cannot store and JSON cannot encode, to
// NULL.
func nullable(f float64) *float64 {
	if math.IsNaN(f) {
		return nil
	}
	return &f
}

func fromNullable(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}
