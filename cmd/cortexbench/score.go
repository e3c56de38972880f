package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxrun"
	"github.com/cortexbench/cortexbench/models/ort"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/report"
	"github.com/cortexbench/cortexbench/scoring/runner"
	"github.com/cortexbench/cortexbench/storage/rdmstore"
	"github.com/cortexbench/cortexbench/storage/registry"
)

// recordModel registers the model entry (file, preprocessing spec) in the
// object store (file and metadata, as 'models add' does) and in the
// registry database, unless it is registered: an existing entry is never
// changed. It returns the entry as registered (its name may be another
// than md's).
func recordModel(ctx context.Context, p *platform, md models.Metadata, file []byte) (models.Metadata, error) {
	stored, _, err := (&models.Registry{Store: p.bucket}).Add(ctx, md, bytes.NewReader(file))
	if err != nil {
		return md, err
	}
	if _, _, err := p.db.CreateModel(ctx, registryModel(stored, "cortexbench")); err != nil {
		return stored, err
	}
	return stored, nil
}

// registryModel is the database record of a model entry.
func registryModel(md models.Metadata, owner string) registry.Model {
	spec, _ := json.Marshal(md.Spec.String())
	return registry.Model{Hash: md.ID, File: md.File, Name: md.Name, Version: md.Version, Family: md.Family,
		TrainingData: md.TrainingData, Params: md.Parameters, Preprocessing: spec, Owner: owner}
}

// existingEntryNote says that the entry was registered before under
// another name, which it keeps; "" when the names agree.
func existingEntryNote(asked string, stored models.Metadata) string {
	if asked == stored.Name {
		return ""
	}
	return fmt.Sprintf("note: this file with preprocessing %s is already registered as %q (model %s): keeping that name, nothing was renamed "+
		"(to score the file with other preprocessing, give another --preprocess: that is a new entry with its own scores)",
		stored.Spec, stored.Name, stored.ID[:12])
}

// openScoring opens what scoring needs: the platform (the caller closes
// it), ONNX Runtime and the benchmark ids the flags name.
func (f *scoreFlags) openScoring(ctx context.Context) (*platform, *ort.Runtime, []string, error) {
	p, err := f.plat.open(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	rt, err := onnxrun.OpenRuntime(*f.lib)
	if err == nil {
		var ids []string
		if ids, err = f.benchmarkIDs(ctx, p); err == nil {
			return p, rt, ids, nil
		}
	}
	p.close(ctx)
	return nil, nil, nil, err
}

// scoreFlags are shared by `score` and `run`.
type scoreFlags struct {
	plat        *platformFlags
	lib         *string
	poolTo      *int64
	reduce      *reduceFlags
	bootstrap   *int
	candidates  *string
	ridgeLayers *string
	benchmarks  *string
	cacheLimit  *int64
	fresh       bool
	// warn reports what scoring works around (a corrupt cached layer,
	// extracted again) on stderr.
	warn *slog.Logger
}

func addScoreFlags(env *Env, fs *flag.FlagSet) *scoreFlags {
	return &scoreFlags{
		plat:        addPlatformFlags(env, fs),
		lib:         fs.String("onnxruntime-lib", ortLibDefault(env), "libonnxruntime.so `path` (installed by scripts/setup.sh; $CORTEXBENCH_ONNXRUNTIME_LIB)"),
		poolTo:      fs.Int64("pool-to", onnxrun.DefaultPoolTo, "average-pool every larger layer in the graph to at most `N` values per image (the same as --reduce pool:N)"),
		reduce:      addReduceFlags(fs),
		bootstrap:   fs.Int("bootstrap", 1000, "bootstrap resamples for the confidence intervals"),
		candidates:  fs.String("layers", string(runner.AllButOutput), "which layers compete on RSA benchmarks: all-but-output, all, blocks, spaced:K or a comma-separated list of layers, each a layer id (L042.Conv), an ONNX node or tensor name, or a PyTorch module path (layer1.0.conv1: the module's last node)"),
		ridgeLayers: fs.String("ridge-layers", string(runner.DefaultConfig().RidgeCandidates), "which layers compete on encoding (ridge) benchmarks, as --layers"),
		benchmarks:  fs.String("benchmark", "all", "benchmark ids (comma-separated) or all"),
		cacheLimit:  fs.Int64("cache-limit", onnxrun.DefaultCacheLimit, "cache the reduced activations of a stimulus set in the object store when they take at most `bytes` (0: never)"),
		warn:        slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

func (f *scoreFlags) runner(p *platform, progress func(runner.Event)) (*runner.Runner, error) {
	return runner.NewRunner(runnerConfig(f), p.bench, registry.Results{DB: p.db}, rdmstore.Store{Bucket: p.bucket}, progress)
}

func (f *scoreFlags) benchmarkIDs(ctx context.Context, p *platform) ([]string, error) {
	bs, err := p.bench.List(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(bs))
	for i, b := range bs {
		ids[i] = b.ID
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: no benchmarks in the store %s: run 'cortexbench benchmarks import-builtin' (or 'make run', which imports them) or 'cortexbench benchmarks add MANIFEST'", errInput, p.desc)
	}
	if *f.benchmarks == "all" {
		return ids, nil
	}
	want := splitList(*f.benchmarks)
	for _, ref := range want {
		if id, _, _ := strings.Cut(ref, "@"); !slices.Contains(ids, id) { // id@version names an older version
			return nil, fmt.Errorf("%w: benchmark %q is not in the store %s (%d benchmarks there): 'cortexbench benchmarks list' shows them; 'benchmarks import-builtin' or 'benchmarks add MANIFEST' adds more", errInput, id, p.desc, len(ids))
		}
	}
	return want, nil
}

func ortLibDefault(env *Env) string {
	if lib := env.Getenv("CORTEXBENCH_ONNXRUNTIME_LIB"); lib != "" {
		return lib
	}
	return ort.DefaultLibraryPath
}

// runScore scores ONNX files on benchmarks already in the store.
func runScore(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "score", "score --model FILE [--model FILE…] [--benchmark ID,…|all] [--preprocess SPEC] [--name NAME] [--control shuffled|untrained] [--json]")
	sf := addScoreFlags(env, fs)
	var files multiFlag
	fs.Var(&files, "model", "ONNX `file` to score (repeat for several)")
	preprocess := fs.String("preprocess", "", "preprocessing `spec` for every --model: a preset (imagenet, keras_tf, mobilenet_v2_float, …) and/or key=value pairs, e.g. imagenet,size=160 or size=224,crop=0.875,mean=…,std=…,layout=NCHW (see 'cortexbench models -h'); default: the file's registered spec, else imagenet for a 3-channel NCHW float input")
	name := fs.String("name", "", "model `name` (default: the file name)")
	family := fs.String("family", "", "model `family`")
	commit := fs.String("commit", "", "declare the model's layer per brain region, e.g. IT=L062.Conv,V4=layer4.1 (a layer as in --layers: id, ONNX node or tensor name, PyTorch module path): benchmarks scored by region commitment score these layers as given; another model entry than without")
	asJSON := fs.Bool("json", false, "print the scores as JSON")
	sf.reduce.data = fs.String("data", defaultDataDir, "datasets `folder`: where --reduce pca:K reads its reference images")
	cf := addControlFlags(fs)
	fs.BoolVar(&sf.fresh, "fresh", false, "compute every score again with this run's settings (--layers, --bootstrap…) and store nothing (no score, no model entry): a stored score is kept once per model entry (file and preprocessing) and benchmark version")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if len(files) == 0 {
		fmt.Fprintln(env.Stderr, "score: give at least one --model FILE")
		return errUsage
	}
	if err := cf.check(); err != nil {
		return err
	}
	p, rt, ids, err := sf.openScoring(ctx)
	if err != nil {
		return err
	}
	defer p.close(ctx)
	run, err := sf.runner(p, report.ProgressPrinter(env.Stderr))
	if err != nil {
		return err
	}
	commitments, err := models.ParseCommitments(*commit)
	if err != nil {
		return layerUsage(env, "--commit", err)
	}
	specs := make([]models.Spec, len(files))
	for i, file := range files {
		if specs[i], err = specFor(ctx, env, rt, p, file, *preprocess); err != nil {
			return err
		}
	}
	pixelSpecs := specs
	if cf.on() { // a control is preprocessed as its model
		pixelSpecs = append(slices.Clone(specs), specs...)
	}
	donePixels, err := sharedPixels(env, *sf.plat.store, rt, pixelSpecs) // issue 18
	if err != nil {
		return err
	}
	defer donePixels()
	var all []scoring.Score
	var controls []controlRow
	for i, file := range files {
		info := onnxrun.Info{Path: file, Name: *name, Family: *family, Commitments: commitments, Spec: specs[i]}
		if info.Name == "" {
			info.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
		}
		scores, err := scoreModel(ctx, env, p, rt, run, info, sf, ids)
		if err != nil {
			return err
		}
		all = append(all, scores...)
		if cf.on() {
			cs, rows, err := scoreControl(ctx, env, p, rt, run, info, scores, sf, ids, cf)
			if err != nil {
				return err
			}
			all, controls = append(all, cs...), append(controls, rows...)
		}
	}
	if cf.on() && *asJSON {
		return writeJSON(env.Stdout, controlJSON{Scores: report.ScoresJSON(all), Controls: controls})
	}
	if cf.on() {
		report.PrintScores(env.Stdout, all)
		fmt.Fprintln(env.Stdout)
		printControls(env.Stdout, controls)
		return nil
	}
	if *asJSON {
		return writeJSON(env.Stdout, report.ScoresJSON(all))
	}
	report.PrintScores(env.Stdout, all)
	return nil
}

// scoreModel loads a model file, registers its entry (file and
// preprocessing spec; object store and database) unless --fresh, and
// scores it on the benchmarks ids, its activations cached in the store for
// stimulus sets of at most cacheLimit bytes. An entry registered before
// keeps its name: the scores are stored under it, and a note on stderr says
// so when info.Name differs.
func scoreModel(ctx context.Context, env *Env, p *platform, rt *ort.Runtime, run *runner.Runner, info onnxrun.Info, sf *scoreFlags, ids []string) ([]scoring.Score, error) {
	m, err := onnxrun.Load(rt, info, *sf.poolTo)
	if errors.Is(err, models.ErrCommitments) {
		return nil, layerUsage(env, "--commit", err)
	}
	if err != nil {
		return nil, err
	}
	if err := checkLayerFlags(env, m.Name(), m.Layers(), sf); err != nil {
		return nil, err
	}
	if err := sf.reduce.apply(m, *sf.poolTo); err != nil {
		return nil, err
	}
	m.Cache, m.CacheLimit, m.Log = p.bucket, *sf.cacheLimit, sf.warn
	if !sf.fresh {
		stored, err := recordModel(ctx, p, m.Metadata(), m.Checked().Data)
		if err != nil {
			return nil, err
		}
		if note := existingEntryNote(info.Name, stored); note != "" {
			fmt.Fprintln(env.Stderr, note)
			m.SetName(stored.Name)
		}
	}
	plan := planScore(ctx, env, p, rt, m, ids, *sf.bootstrap)
	scores, err := run.Run(ctx, m, ids)
	if err != nil {
		return nil, explainFailure(err)
	}
	if !sf.fresh {
		plan.record(scores)
	}
	return scores, nil
}

// explainFailure turns a runner failure into a message a submitter can act on.
func explainFailure(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("interrupted: scores finished so far are stored; run the same command again to resume: %w", err)
	case errors.Is(err, scoring.ErrBadModel):
		return fmt.Errorf("the model could not be scored (check its input spec with 'cortexbench models inspect'): %w", err)
	}
	return err
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
