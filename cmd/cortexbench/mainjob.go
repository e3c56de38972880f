package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/httpapi"
	"github.com/cortexbench/cortexbench/leaderboard/snapshot"
	"github.com/cortexbench/cortexbench/leaderboard/wire"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxrun"
	"github.com/cortexbench/cortexbench/models/ort"
	"github.com/cortexbench/cortexbench/models/ort/ortchild"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/report"
	"github.com/cortexbench/cortexbench/submissions"
	subhttp "github.com/cortexbench/cortexbench/submissions/httpapi"
	"github.com/cortexbench/cortexbench/submissions/jobscorer"
	"github.com/cortexbench/cortexbench/submissions/riverqueue"
)

// runScoreAndServe is the main job on the embedded default: import the
// built-in benchmarks from the datasets folder, score the default models
// on every one, print the leaderboard, publish it to the bucket, and serve
// the API and web page on 127.0.0.1 until interrupted.
func runScoreAndServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "run", "run [--data DIR] [--models DIR] [--addr 127.0.0.1:8080] [--no-serve] [--json] [--wide] [--width N]")
	sf := addScoreFlags(env, fs)
	data := fs.String("data", defaultDataDir, "datasets `folder` (../shared/datasets)")
	sf.reduce.data = data
	modelsDir := fs.String("models", defaultModelsDir, "models `folder` (../shared/models)")
	addr := fs.String("addr", "127.0.0.1:8080", "`address` to serve the leaderboard on (loopback)")
	noServe := fs.Bool("no-serve", false, "score, print and publish, then exit without serving")
	refresh := fs.Duration("refresh", 15*time.Second, "how often the served leaderboard picks up new scores")
	publishEvery := addPublishFlag(fs)
	asJSON := fs.Bool("json", false, "print the scores as JSON instead of tables")
	wide := fs.Bool("wide", false, "add a column per benchmark to the printed leaderboard (lines then exceed --width)")
	width := fs.Int("width", wire.DefaultTextWidth, "fit the printed leaderboard to `columns` (shorter model names, then fewer region means)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *width < wire.MinTextWidth {
		return fmt.Errorf("%w: --width %d is too narrow for the leaderboard; give at least %d (default %d)", errInput, *width, wire.MinTextWidth, wire.DefaultTextWidth)
	}
	if _, err := os.Stat(*data); err != nil {
		return fmt.Errorf("%w: datasets folder: %w (pass --data DIR)", errInput, err)
	}
	infos, err := onnxrun.Defaults(*modelsDir, filepath.Dir(*sf.plat.store))
	if err != nil {
		return fmt.Errorf("%w: %w (pass --models DIR, the folder of the shared models)", errInput, err)
	}
	p, err := sf.plat.open(ctx)
	if err != nil {
		return err
	}
	defer p.close(ctx)

	fmt.Fprintf(env.Stderr, "importing the built-in benchmarks from %s\n", *data)
	added, err := p.bench.ImportBuiltin(ctx, *data, nil, benchmarks.AddOptions{})
	if err != nil {
		return err
	}
	for _, a := range added {
		fmt.Fprintf(env.Stderr, "  %s %s (version %s)\n", a.Status, a.Summary.ID, a.Summary.Version)
		for _, f := range a.Repaired {
			fmt.Fprintf(env.Stderr, "    the stored copy of %s was corrupt and has been replaced\n", f)
		}
	}
	if err := syncBenchmarks(ctx, p); err != nil {
		return err
	}
	ids, err := sf.benchmarkIDs(ctx, p)
	if err != nil {
		return err
	}
	rt, err := onnxrun.OpenRuntime(*sf.lib)
	if err != nil {
		return err
	}
	run, err := sf.runner(p, report.ProgressPrinter(env.Stderr))
	if err != nil {
		return err
	}
	// Models of one geometry (MobileNetV2 and its control) decode and
	// resize each image once (issue 18).
	specs := make([]models.Spec, len(infos))
	for i, info := range infos {
		specs[i] = info.Spec
	}
	donePixels, err := sharedPixels(env, *sf.plat.store, rt, specs)
	if err != nil {
		return err
	}
	var all []scoring.Score
	for _, info := range infos {
		scores, err := scoreModel(ctx, env, p, rt, run, info, sf, ids)
		if err != nil {
			donePixels()
			return err
		}
		all = append(all, scores...)
	}
	donePixels()

	src := p.board()
	ix, err := leaderboard.Load(ctx, src)
	if err != nil {
		return err
	}
	lb := ix.Rank(leaderboard.Filter{})
	pub, err := p.publisher(env, *publishEvery).PublishNow(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := writeJSON(env.Stdout, report.ScoresJSON(all)); err != nil {
			return err
		}
	} else {
		report.PrintScores(env.Stdout, all)
		fmt.Fprintln(env.Stdout)
		wire.WriteTextOptions(env.Stdout, lb, wire.TextOptions{Width: *width, Wide: *wide})
	}
	printPublished(env, p, pub)
	p.announce(env.Stderr)
	if *noServe {
		return nil
	}
	p.modelsDir = *modelsDir
	sub, stop, err := startSubmissions(ctx, env, p, *sf.plat.postgres, p.jobScorer(rt, *sf.poolTo), nil)
	if err != nil {
		return err
	}
	defer stop()
	defer startPublishing(ctx, env, p, *publishEvery)()
	return serve(ctx, env, *addr, src, p.rdms(), p.comparer(), sub, *refresh)
}

// startSubmissions opens the submissions service with its job queue and,
// on the embedded default, starts in-process workers with scorer. On
// PostgreSQL the server only enqueues: run 'cortexbench worker' processes.
// hb, when not nil, sets the workers' heartbeat (else the defaults).
func startSubmissions(ctx context.Context, env *Env, p *platform, postgres string, scorer submissions.Scorer, hb *heartbeatFlags) (http.Handler, func(), error) {
	gin.SetMode(gin.ReleaseMode)
	qf := riverqueue.Config{}.WithDefaults()
	if hb != nil {
		var err error
		if qf, err = hb.apply(qf); err != nil {
			return nil, nil, err
		}
	}
	qf.Logger = slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if postgres != "" {
		scorer = nil
	}
	rt, err := validationRuntime(p.rtOrNil(scorer))
	if err != nil {
		return nil, nil, err
	}
	if js, ok := scorer.(*jobscorer.Scorer); ok && js.Runtime != nil {
		useCalibration(ctx, env, p, js.Runtime)
	}
	svc, q, closeQueue, err := openSubmissions(ctx, p, postgres, submissions.Config{}, qf, scorer, rt)
	if err != nil {
		return nil, nil, err
	}
	reconcileQueue(ctx, env, p, q)
	stop := closeQueue
	if scorer != nil {
		if err := q.Start(context.WithoutCancel(ctx)); err != nil {
			closeQueue()
			return nil, nil, err
		}
		stop = func() {
			grace, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			q.Stop(grace)
			closeQueue()
		}
	}
	return subhttp.NewHandler(svc, qf.Logger), stop, nil
}

// validationRuntime returns what loads an uploaded model to validate it:
// ONNX Runtime (the library of rt) in a child process of this binary
// (hidden subcommand ortchild.Subcommand) under a memory and time limit,
// so that a model crafted to exhaust ONNX Runtime costs the child, not
// the server; nil (structural checks only) when rt is nil.
func validationRuntime(rt onnxmodel.Runtime) (onnxmodel.Runtime, error) {
	o, ok := rt.(*ort.Runtime)
	if !ok || o == nil {
		return rt, nil
	}
	return ortchild.New(ortchild.Config{Library: o.LibraryPath()})
}

// serve runs the leaderboard API and web page, and the submissions API
// when sub is not nil, until ctx ends.
func serve(ctx context.Context, env *Env, addr string, src leaderboard.Source, rdms leaderboard.RDMSource, cmp leaderboard.Comparer, sub http.Handler, refresh time.Duration) error {
	gin.SetMode(gin.ReleaseMode)
	ctl, _ := cmp.(leaderboard.ControlTester) // stores.Comparer tests models against controls too
	srv, err := httpapi.NewServer(httpapi.Config{Logger: slog.New(slog.NewTextHandler(env.Stderr, nil)), Comparer: cmp, Controls: ctl,
		MoreAPI: []httpapi.API{{Name: "Submissions", Doc: subhttp.OpenAPI()}}}, src, rdms)
	if err != nil {
		return err
	}
	if err := srv.Invalidate(ctx); err != nil {
		return err
	}
	if err := httpapi.CheckLoopback(addr); err != nil {
		return fmt.Errorf("%w: --addr %q: %w", errInput, addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (choose another with --addr)", addr, err)
	}
	extra := map[string]http.Handler{}
	if sub != nil {
		for _, pat := range subhttp.Patterns() {
			extra[pat] = sub
		}
	}
	fmt.Fprintf(env.Stdout, "\nleaderboard: http://%s/  (API: http://%s/api/v1/leaderboard; Ctrl-C to stop)\n", ln.Addr(), ln.Addr())
	return srv.Serve(ctx, ln, extra, refresh, env.Stderr)
}

// runServe serves what the store and database hold.
func runServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "serve", "serve [--addr 127.0.0.1:8080] [--store DIR] [--db FILE | --postgres DSN]")
	pf := addPlatformFlags(env, fs)
	addr := fs.String("addr", "127.0.0.1:8080", "`address` to serve on (loopback)")
	refresh := fs.Duration("refresh", 15*time.Second, "how often the served leaderboard picks up new scores")
	publishEvery := addPublishFlag(fs)
	noWorkers := fs.Bool("no-workers", false, "accept submissions but run no scoring workers in this process (run 'cortexbench worker')")
	hb := addHeartbeatFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if _, err := hb.apply(riverqueue.Config{}); err != nil {
		return err
	}
	p, err := pf.open(ctx)
	if err != nil {
		return err
	}
	defer p.close(ctx)
	if err := syncBenchmarks(ctx, p); err != nil {
		return err
	}
	var scorer submissions.Scorer
	if !*noWorkers {
		if scorer, err = workerScorer(env, p); err != nil {
			return err
		}
	}
	sub, stop, err := startSubmissions(ctx, env, p, *pf.postgres, scorer, hb)
	if err != nil {
		return err
	}
	defer stop()
	defer startPublishing(ctx, env, p, *publishEvery)()
	p.announce(env.Stderr)
	return serve(ctx, env, *addr, p.board(), p.rdms(), p.comparer(), sub, *refresh)
}

// announce prints to w, on one line, how to reach the embedded S3
// endpoint: its URL, the private bucket, the credentials file and the
// access key id (never the secret), and the public snapshot's URL. It
// prints nothing for an external S3 service.
func (p *platform) announce(w io.Writer) {
	s := p.server
	if s == nil {
		return
	}
	ak, _ := s.Credentials()
	creds := s.CredentialsFile()
	if creds == "" {
		creds = "(given in the configuration)"
	}
	fmt.Fprintf(w, "embedded S3: %s bucket %s, credentials %s (access key %s); public snapshot %s\n",
		s.Endpoint(), s.Bucket(), creds, ak, s.PublicURL(snapshot.LatestJSON))
}
