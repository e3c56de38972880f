package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"path/filepath"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/embedded"
	"github.com/cortexbench/cortexbench/storage/npy"
	"github.com/cortexbench/cortexbench/storage/objstore"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/storage/s3"
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

// scoreStore adapts the registry database to the runner's Results.
type scoreStore struct{ db *registry.Registry }

func (s scoreStore) GetScore(ctx context.Context, k scoring.Key) (scoring.Score, bool, error) {
	sc, err := s.db.GetScore(ctx, registry.ScoreKey{ModelHash: k.ModelHash, BenchmarkVersion: k.BenchmarkVersion, ScorerVersion: k.ScorerVersion})
	if registry.IsNotFound(err) {
		return scoring.Score{}, false, nil
	}
	if err != nil {
		return scoring.Score{}, false, err
	}
	return sc, true, nil
}

func (s scoreStore) PutScore(ctx context.Context, sc scoring.Score) error {
	_, _, err := s.db.PutScore(ctx, sc)
	return err
}

// rdmStore keeps model RDMs in the object store and reads brain RDMs of
// public benchmarks from the benchmark registry. It adapts both to the
// runner's ModelRDMs and the leaderboard's RDMSource.
type rdmStore struct {
	bucket objstore.Bucket
	bench  *benchmarks.Registry
}

func modelRDMKey(hash, benchmarkID string) string {
	return "rdms/models/" + hash + "/" + benchmarkID + ".npy"
}

func (s rdmStore) PutModelRDM(ctx context.Context, hash, benchmarkID string, n int, upper []float64) error {
	var buf bytes.Buffer
	if err := npy.Write(&buf, []int{len(upper)}, upper); err != nil {
		return err
	}
	return s.bucket.Put(ctx, modelRDMKey(hash, benchmarkID), &buf)
}

// publicBenchmark looks a benchmark up for serving its RDMs: not found and
// private are the API's errors (a private benchmark's RDMs describe its
// secret stimuli).
func (s rdmStore) publicBenchmark(ctx context.Context, id string) (*benchmarks.Benchmark, error) {
	b, err := s.bench.Benchmark(ctx, id)
	if errors.Is(err, benchmarks.ErrNotFound) {
		return nil, leaderboard.Errorf(leaderboard.ENOTFOUND, "no benchmark %s", id)
	}
	if err != nil {
		return nil, err
	}
	if b.Private {
		return nil, leaderboard.ErrPrivate
	}
	return b, nil
}

// ModelRDM serves a model's RDM on a public benchmark. On a private one
// it refuses: the model's RDM over secret stimuli describes them.
func (s rdmStore) ModelRDM(ctx context.Context, hash, benchmarkID string) (int, []float64, error) {
	if _, err := s.publicBenchmark(ctx, benchmarkID); err != nil {
		return 0, nil, err
	}
	return s.storedModelRDM(ctx, hash, benchmarkID)
}

// storedModelRDM reads a model's stored RDM whatever the benchmark, for
// computations that publish only summaries (model comparisons).
func (s rdmStore) storedModelRDM(ctx context.Context, hash, benchmarkID string) (int, []float64, error) {
	rc, err := s.bucket.Get(ctx, modelRDMKey(hash, benchmarkID))
	if objstore.IsNotFound(err) {
		return 0, nil, leaderboard.Errorf(leaderboard.ENOTFOUND, "no model RDM of %s on %s", hash, benchmarkID)
	}
	if err != nil {
		return 0, nil, err
	}
	defer rc.Close()
	a, err := npy.Read(rc, -1)
	if err != nil {
		return 0, nil, err
	}
	v := a.Float64()
	return triangleSide(len(v)), v, nil
}

// BrainRDM is the mean over subjects of a public RSA benchmark's RDMs.
func (s rdmStore) BrainRDM(ctx context.Context, benchmarkID string) (int, []float64, error) {
	b, err := s.publicBenchmark(ctx, benchmarkID)
	if err != nil {
		return 0, nil, err
	}
	if b.Dataset.Kind != benchmarks.KindRDM {
		return 0, nil, leaderboard.Errorf(leaderboard.ENOTFOUND, "%s has no RDMs (it is an encoding benchmark)", benchmarkID)
	}
	l, err := s.bench.Open(ctx, benchmarkID)
	if err != nil {
		return 0, nil, err
	}
	mean := make([]float64, len(l.RDMs[0]))
	for _, v := range l.RDMs {
		for i, x := range v {
			mean[i] += x / float64(len(l.RDMs))
		}
	}
	return l.Stimuli.Len(), mean, nil
}

func triangleSide(m int) int {
	n := int(math.Round((1 + math.Sqrt(1+8*float64(m))) / 2))
	return n
}

// boardSource adapts the registry database and the benchmark registry to
// the leaderboard's Source.
type boardSource struct {
	db    *registry.Registry
	bench *benchmarks.Registry
}

func (s boardSource) Scores(ctx context.Context) ([]scoring.Score, error) {
	return s.db.ListScores(ctx, registry.ScoreFilter{ScorerVersion: scoring.ScorerVersion})
}

func (s boardSource) Models(ctx context.Context) ([]leaderboard.ModelInfo, error) {
	ms, err := s.db.ListModels(ctx, registry.ModelFilter{})
	if err != nil {
		return nil, err
	}
	out := make([]leaderboard.ModelInfo, len(ms))
	for i, m := range ms {
		out[i] = leaderboard.ModelInfo{Hash: m.Hash, Name: m.Name, Family: m.Family, Version: m.Version, TrainingData: m.TrainingData, Params: m.Params}
	}
	return out, nil
}

func (s boardSource) Benchmarks(ctx context.Context) ([]leaderboard.BenchmarkInfo, error) {
	bs, err := s.bench.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]leaderboard.BenchmarkInfo, len(bs))
	for i, b := range bs {
		ceil := math.NaN()
		if b.CeilingValid {
			ceil = b.CeilingUpper
		}
		out[i] = leaderboard.BenchmarkInfo{ID: b.ID, Version: b.Version, Parent: b.Parent, Region: b.Region, Species: b.Species,
			Method: b.Method, Private: b.Private, Ceiling: ceil, StimulusCount: b.Stimuli, Citation: b.Citation}
	}
	return out, nil
}

// syncBenchmarks mirrors the benchmark catalogue into the registry
// database (ids, versions, parents, privacy and the servable summary).
func syncBenchmarks(ctx context.Context, p *platform) error {
	bs, err := p.bench.List(ctx)
	if err != nil {
		return err
	}
	for _, b := range bs {
		meta, err := json.Marshal(b)
		if err != nil {
			return err
		}
		if err := p.db.PutBenchmark(ctx, registry.Benchmark{ID: b.ID, Version: b.Version, Parent: b.Parent, Private: b.Private, Metadata: meta}); err != nil {
			return fmt.Errorf("record benchmark %s: %w", b.ID, err)
		}
	}
	return nil
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
	if js, ok := s.(*jobScorer); ok && js.rt != nil {
		return js.rt
	}
	return nil
}
