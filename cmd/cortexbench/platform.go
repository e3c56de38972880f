package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/leaderboard/stores"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxrun"
	"github.com/cortexbench/cortexbench/models/ort"
	"github.com/cortexbench/cortexbench/scoring/runner"
	"github.com/cortexbench/cortexbench/storage/embedded"
	"github.com/cortexbench/cortexbench/storage/objstore"
	"github.com/cortexbench/cortexbench/storage/rdmstore"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/storage/s3"
	"github.com/cortexbench/cortexbench/submissions/jobscorer"
)

// platformFlags are the flags that say where state lives: the object store
// (the embedded S3 endpoint over a folder by default, or any S3 service)
// and the registry database (SQLite by default, or PostgreSQL).
type platformFlags struct {
	store, db, postgres  *string
	s3Endpoint, s3Bucket *string
	s3Region             *string
	s3Public             *string
	s3PathStyle          *bool
}

func addPlatformFlags(env *Env, fs *flag.FlagSet) *platformFlags {
	storeDef := env.Getenv("CORTEXBENCH_STORE")
	if storeDef == "" {
		storeDef = embedded.DefaultDir
	}
	return &platformFlags{
		store:       fs.String("store", storeDef, "object store `folder` served by the embedded S3 endpoint ($CORTEXBENCH_STORE)"),
		db:          fs.String("db", "", "SQLite registry `file` (when --postgres is not set; default registry.db beside the --store folder)"),
		postgres:    fs.String("postgres", env.Getenv("CORTEXBENCH_POSTGRES"), "PostgreSQL `DSN` for the registry ($CORTEXBENCH_POSTGRES)"),
		s3Endpoint:  fs.String("s3-endpoint", env.Getenv("CORTEXBENCH_S3_ENDPOINT"), "use this S3 `URL` instead of the embedded endpoint (credentials from the standard AWS chain)"),
		s3Bucket:    fs.String("s3-bucket", "cortexbench", "S3 `bucket` (with --s3-endpoint)"),
		s3Region:    fs.String("s3-region", "us-east-1", "S3 `region` (with --s3-endpoint)"),
		s3PathStyle: fs.Bool("s3-path-style", true, "path-style S3 addressing (with --s3-endpoint)"),
		s3Public:    fs.String("s3-public-bucket", "", "publicly readable S3 `bucket` the leaderboard snapshots go to (with --s3-endpoint; default <s3-bucket>-public)"),
	}
}

// platform is the storage every command that scores or serves needs.
type platform struct {
	bucket   objstore.Bucket
	endpoint string // the S3 endpoint the bucket is reachable at
	desc     string // where the objects are, for messages
	server   *embedded.Server
	db       *registry.Registry
	bench    *benchmarks.Registry

	// public is the publicly readable bucket: published snapshots only.
	public *s3.Bucket

	// storeDir is the embedded store's folder ("" on another S3), where
	// the time estimates' calibration is kept; modelsDir holds the
	// calibration's built-in model ("" for defaultModelsDir).
	storeDir, modelsDir string
}

func (f *platformFlags) open(ctx context.Context) (*platform, error) {
	p := &platform{}
	if *f.s3Endpoint != "" {
		b, err := s3.New(ctx, s3.Config{Endpoint: *f.s3Endpoint, Bucket: *f.s3Bucket, Region: *f.s3Region, PathStyle: *f.s3PathStyle}.WithDefaults())
		if err != nil {
			return nil, fmt.Errorf("object store %s: %w", *f.s3Endpoint, err)
		}
		pubName := *f.s3Public
		if pubName == "" {
			pubName = *f.s3Bucket + embedded.PublicSuffix
		}
		pub, err := s3.New(ctx, s3.Config{Endpoint: *f.s3Endpoint, Bucket: pubName, Region: *f.s3Region, PathStyle: *f.s3PathStyle}.WithDefaults())
		if err != nil {
			return nil, fmt.Errorf("object store %s: %w", *f.s3Endpoint, err)
		}
		p.bucket, p.public, p.endpoint = b, pub, *f.s3Endpoint
		p.desc = fmt.Sprintf("(bucket %s at %s)", *f.s3Bucket, *f.s3Endpoint)
	} else {
		b, srv, err := embedded.Open(ctx, embedded.Config{Dir: *f.store})
		if err != nil {
			return nil, fmt.Errorf("embedded object store in %s: %w", *f.store, err)
		}
		pub, err := srv.OpenPublic(ctx)
		if err != nil {
			srv.Close(ctx)
			return nil, fmt.Errorf("embedded object store in %s: %w", *f.store, err)
		}
		p.bucket, p.public, p.server, p.endpoint = b, pub, srv, srv.Endpoint()
		p.desc = fmt.Sprintf("(folder %s)", *f.store)
		p.storeDir = *f.store
	}
	cfg := registry.Config{PostgresDSN: *f.postgres}
	if cfg.PostgresDSN == "" {
		cfg.SQLitePath = *f.db
		if cfg.SQLitePath == "" {
			cfg.SQLitePath = filepath.Join(filepath.Dir(filepath.Clean(*f.store)), "registry.db")
		}
	}
	db, err := registry.Open(ctx, cfg)
	if err != nil {
		p.close(ctx)
		return nil, fmt.Errorf("registry database: %w", err)
	}
	p.db = db
	p.bench = benchmarks.NewRegistry(p.bucket)
	return p, nil
}

func (p *platform) close(ctx context.Context) {
	if p.db != nil {
		p.db.Close()
	}
	if p.server != nil {
		p.server.Close(ctx)
	}
}

// syncBenchmarks mirrors the benchmark catalogue into the registry database.
func syncBenchmarks(ctx context.Context, p *platform) error {
	return stores.SyncBenchmarks(ctx, p.bench, p.db)
}

// defaultDataDir and defaultModelsDir are where the shared datasets and
// models live relative to a checkout.
var (
	defaultDataDir   = filepath.Join("..", "shared", "datasets")
	defaultModelsDir = filepath.Join("..", "shared", "models")
)

// rtOrNil returns the ONNX Runtime of a job scorer, so the submissions
// service also checks that a submitted model loads; nil otherwise.
func (p *platform) rtOrNil(s any) onnxmodel.Runtime {
	if js, ok := s.(*jobscorer.Scorer); ok && js.Runtime != nil {
		return js.Runtime
	}
	return nil
}

// board, rdms and comparer are the leaderboard's views of p's stores.
func (p *platform) board() stores.Board { return stores.Board{DB: p.db, Bench: p.bench} }
func (p *platform) rdms() stores.RDMs {
	return stores.RDMs{Models: rdmstore.Store{Bucket: p.bucket}, Bench: p.bench}
}
func (p *platform) comparer() stores.Comparer {
	return stores.NewComparer(p.bench, rdmstore.Store{Bucket: p.bucket})
}

// jobScorer scores queued jobs with the runner, on p's stores.
func (p *platform) jobScorer(rt *ort.Runtime, poolTo int64) *jobscorer.Scorer {
	return &jobscorer.Scorer{Models: &models.Registry{Store: p.bucket}, Runtime: rt, Config: runner.DefaultConfig(), PoolTo: poolTo,
		Bench: p.bench, Results: registry.Results{DB: p.db}, RDMs: rdmstore.Store{Bucket: p.bucket}, CacheLimit: onnxrun.DefaultCacheLimit}
}
