package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/activations"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/ort"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/runner"
	"github.com/cortexbench/cortexbench/storage/registry"
)

// onnxModel adapts a validated ONNX file to the runner's Model: layers are
// extracted through ONNX Runtime with every large layer average-pooled in
// the graph to at most poolTo values per image.
type onnxModel struct {
	rt      *ort.Runtime
	checked *onnxmodel.Checked
	info    modelInfo
	layers  []models.Layer
	poolTo  int64
	cache   models.BlobStore // reduced activations; nil: none
	// cacheLimit bounds the activations of one stimulus set and pass that
	// are cached: small sets are kept, while every layer of a 92-image set
	// (~270 MB for MobileNetV2) or a 1200-image session would fill the disk
	// for little gain: their scores are stored, so a second run extracts
	// nothing anyway.
	cacheLimit int64
}

// modelInfo is what the platform records about a model.
type modelInfo struct {
	Path, Name, Family, Version, TrainingData string
	Spec                                      models.Spec
}

func (m *onnxModel) Hash() string           { return m.checked.SHA256 }
func (m *onnxModel) Name() string           { return m.info.Name }
func (m *onnxModel) Layers() []models.Layer { return m.layers }

// Features is the layer's values per image after in-graph pooling; a
// layer of unknown shape counts as poolTo (only the feature budget uses it).
func (m *onnxModel) Features(l models.Layer) int {
	q := l.Features()
	if m.poolTo > 0 {
		q = onnxmodel.PooledFeatures(m.checked.Model, l, m.poolTo)
	}
	if q < 0 {
		return int(max(m.poolTo, 1))
	}
	return int(q)
}

// Extract runs the layers over stim. With a cache, and stimuli that name
// their content (scoring's stimulus key), layers already cached for this
// model, stimulus set, preprocessing and reduction are read back instead of
// computed, and the others are stored once extracted, when the set's
// activations fit cacheLimit bytes.
func (m *onnxModel) Extract(ctx context.Context, stim models.Stimuli, layers []models.Layer, c models.Consumer, p models.Progress) error {
	opts := ort.Options{PoolTo: m.poolTo}
	keyed, ok := stim.(interface{ Key() string })
	if m.cache == nil || !ok || m.activationBytes(stim.Len(), layers) > m.cacheLimit {
		return m.extract(ctx, stim, layers, opts, c, p)
	}
	key := func(l models.Layer) activations.Key {
		return activations.Key{Model: m.Hash(), Stimuli: keyed.Key(), Layer: l.ID, Preprocess: m.info.Spec.String(), Reduction: opts.Reduction()}
	}
	missing, err := activations.Missing(ctx, m.cache, layers, key)
	if err != nil {
		return err
	}
	todo := map[string]bool{}
	for _, l := range missing {
		todo[l.ID] = true
	}
	for _, l := range layers {
		if todo[l.ID] {
			continue
		}
		rows, cols, data, err := activations.Load(ctx, m.cache, key(l))
		if err != nil {
			return err
		}
		if rows != stim.Len() {
			return fmt.Errorf("cached activations of %s: %d rows for %d stimuli", l.ID, rows, stim.Len())
		}
		batch := make([][]float32, rows)
		for i := range batch {
			batch[i] = data[i*cols : (i+1)*cols]
		}
		if err := c.Consume(ctx, l, 0, batch); err != nil {
			return err
		}
	}
	if len(missing) == 0 {
		return nil
	}
	caching := &activations.Caching{Store: m.cache, Key: key, Total: stim.Len(), Next: c}
	if err := m.extract(ctx, stim, missing, opts, caching, p); err != nil {
		return err
	}
	return caching.Finish(ctx)
}

func (m *onnxModel) extract(ctx context.Context, stim models.Stimuli, layers []models.Layer, opts ort.Options, c models.Consumer, p models.Progress) error {
	ex, err := m.rt.NewExtractor(m.checked, m.info.Spec, layers, opts)
	if err != nil {
		return err
	}
	defer ex.Close()
	return ex.Run(ctx, stim, c, p)
}

func (m *onnxModel) activationBytes(n int, layers []models.Layer) int64 {
	var b int64
	for _, l := range layers {
		b += int64(n) * int64(m.Features(l)) * 4
	}
	return b
}

// loadModel validates the file and enumerates its layers.
func loadModel(rt *ort.Runtime, info modelInfo, poolTo int64) (*onnxModel, error) {
	c, err := onnxmodel.ValidateFile(info.Path, onnxmodel.DefaultConfig(), rt)
	if err != nil {
		return nil, err
	}
	m, err := newONNXModel(rt, c, info, poolTo)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", info.Path, err)
	}
	return m, nil
}

// newONNXModel checks the preprocessing against the model's input and
// enumerates its layers.
func newONNXModel(rt *ort.Runtime, c *onnxmodel.Checked, info modelInfo, poolTo int64) (*onnxModel, error) {
	if err := onnxmodel.CheckSpec(c, info.Spec); err != nil {
		return nil, err
	}
	layers, err := rt.Inspect(c.Model)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	return &onnxModel{rt: rt, checked: c, info: info, layers: layers, poolTo: poolTo}, nil
}

// recordModel registers the model in the object store (file and
// metadata, as 'models add' does) and in the registry database.
func recordModel(ctx context.Context, p *platform, m *onnxModel) error {
	c := m.checked
	md := models.Metadata{ID: c.SHA256, Name: m.info.Name, Version: m.info.Version, Family: m.info.Family, TrainingData: m.info.TrainingData,
		Parameters: c.Parameters, FileBytes: int64(len(c.Data)), Opset: c.Opset, Input: c.Input, Outputs: c.Outputs, Spec: m.info.Spec, Layers: len(m.layers)}
	if err := (&models.Registry{Store: p.bucket}).Add(ctx, md, bytes.NewReader(c.Data)); err != nil {
		return err
	}
	return p.db.PutModel(ctx, registryModel(md, "cortexbench"))
}

// registryModel is the database record of a model.
func registryModel(md models.Metadata, owner string) registry.Model {
	spec, _ := json.Marshal(md.Spec.String())
	return registry.Model{Hash: md.ID, Name: md.Name, Version: md.Version, Family: md.Family,
		TrainingData: md.TrainingData, Params: md.Parameters, Preprocessing: spec, Owner: owner}
}

// defaultModels are the models the main job scores: both MobileNets in
// float32 from the shared models folder, and an untrained control made by
// shuffling MobileNetV2's weights within each tensor (seed 1), written
// once under stateDir.
func defaultModels(modelsDir, stateDir string) ([]modelInfo, error) {
	v2 := filepath.Join(modelsDir, "mobilenet_v2_1.0_224", "mobilenet_v2_1.0_224_float32.onnx")
	v1 := filepath.Join(modelsDir, "mobilenet_v1_0.5_128", "mobilenet_v1_0.5_128_float32.onnx")
	for _, p := range []string{v2, v1} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%w: model %s: %w (pass --models DIR, the folder of the shared models)", errInput, p, err)
		}
	}
	control := filepath.Join(stateDir, "models", "mobilenet_v2_1.0_224_float32_shuffled_seed1.onnx")
	if _, err := os.Stat(control); err != nil {
		data, err := os.ReadFile(v2)
		if err != nil {
			return nil, err
		}
		out, _, err := onnxmodel.ShuffleWeights(data, 1)
		if err != nil {
			return nil, fmt.Errorf("make the shuffled control: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(control), 0o755); err != nil {
			return nil, err
		}
		tmp := control + ".tmp"
		if err := os.WriteFile(tmp, out, 0o644); err != nil {
			return nil, err
		}
		if err := os.Rename(tmp, control); err != nil {
			return nil, err
		}
	}
	return []modelInfo{
		{Path: v2, Name: "MobileNetV2-1.0-224", Family: "mobilenet", Version: "1.0", TrainingData: "ImageNet-1k", Spec: models.MobileNetV2Float},
		{Path: v1, Name: "MobileNetV1-0.5-128", Family: "mobilenet", Version: "0.5", TrainingData: "ImageNet-1k", Spec: models.MobileNetV1Float},
		{Path: control, Name: "MobileNetV2-shuffled (control)", Family: "control", Version: "seed1", TrainingData: "none (weights shuffled per tensor)", Spec: models.MobileNetV2Float},
	}, nil
}

// progressPrinter writes the runner's events to w, one line per stage
// change and at most one extraction line per few seconds.
func progressPrinter(w io.Writer) func(runner.Event) {
	var mu sync.Mutex
	var last time.Time
	var lastKey string
	start := time.Now()
	return func(e runner.Event) {
		mu.Lock()
		defer mu.Unlock()
		key := e.Model + e.Benchmark + e.Stage
		if (e.Stage == "extracting" || e.Stage == "scoring") && key == lastKey && time.Since(last) < 3*time.Second && e.Done != e.Total {
			return
		}
		last, lastKey = time.Now(), key
		el := time.Since(start).Round(time.Second)
		line := fmt.Sprintf("[%02d:%02d] %s · %s · %s", int(el.Minutes()), int(el.Seconds())%60, e.Model, e.Benchmark, e.Stage)
		if e.Total > 0 {
			line += fmt.Sprintf(" %d/%d", e.Done, e.Total)
		}
		if e.Message != "" {
			line += " · " + e.Message
		}
		fmt.Fprintln(w, line)
	}
}

// defaultCacheLimit is the largest stimulus set's activations (bytes per
// pass) cached in the object store.
const defaultCacheLimit = 128 << 20

// defaultPoolTo bounds the values per image of every layer: larger layers
// are average-pooled over space in the graph (see ort.Options.PoolTo).
const defaultPoolTo = 4096

// scoreFlags are shared by `score` and `run`.
type scoreFlags struct {
	plat        *platformFlags
	lib         *string
	poolTo      *int64
	bootstrap   *int
	candidates  *string
	ridgeLayers *string
	benchmarks  *string
	cacheLimit  *int64
	fresh       bool
}

func addScoreFlags(env *Env, fs *flag.FlagSet) *scoreFlags {
	return &scoreFlags{
		plat:        addPlatformFlags(env, fs),
		lib:         fs.String("onnxruntime-lib", ortLibDefault(env), "libonnxruntime.so `path` (installed by scripts/setup.sh; $CORTEXBENCH_ONNXRUNTIME_LIB)"),
		poolTo:      fs.Int64("pool-to", defaultPoolTo, "average-pool every larger layer in the graph to at most `N` values per image"),
		bootstrap:   fs.Int("bootstrap", 1000, "bootstrap resamples for the confidence intervals"),
		candidates:  fs.String("layers", string(runner.AllButOutput), "which layers compete on RSA benchmarks: all-but-output, all, blocks, spaced:K or a list of layer ids"),
		ridgeLayers: fs.String("ridge-layers", string(runner.DefaultConfig().RidgeCandidates), "which layers compete on encoding (ridge) benchmarks, as --layers"),
		benchmarks:  fs.String("benchmark", "all", "benchmark ids (comma-separated) or all"),
		cacheLimit:  fs.Int64("cache-limit", defaultCacheLimit, "cache the reduced activations of a stimulus set in the object store when they take at most `bytes` (0: never)"),
	}
}

func (f *scoreFlags) runner(p *platform, progress func(runner.Event)) (*runner.Runner, error) {
	return runner.NewRunner(runnerConfig(f), p.bench, scoreStore{p.db}, rdmStore{p.bucket, p.bench}, progress)
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

// peakRSS is the process's peak resident set (VmHWM), 0 if unknown.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}

// runScore scores ONNX files on benchmarks already in the store.
func runScore(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "score", "score --model FILE [--model FILE…] [--benchmark ID,…|all] [--preprocess SPEC] [--name NAME] [--json]")
	sf := addScoreFlags(env, fs)
	var files multiFlag
	fs.Var(&files, "model", "ONNX `file` to score (repeat for several)")
	preprocess := fs.String("preprocess", "", "preprocessing `spec` for every --model, e.g. mobilenet_v2_float or size=224,crop=0.875,mean=…,std=…,layout=NCHW")
	name := fs.String("name", "", "model `name` (default: the file name)")
	family := fs.String("family", "", "model `family`")
	asJSON := fs.Bool("json", false, "print the scores as JSON")
	fs.BoolVar(&sf.fresh, "fresh", false, "compute every score again with this run's settings (--layers, --pool-to, --bootstrap…) and store none: a stored score is kept once per model and benchmark version")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if len(files) == 0 {
		fmt.Fprintln(env.Stderr, "score: give at least one --model FILE")
		return errUsage
	}
	p, err := sf.plat.open(ctx)
	if err != nil {
		return err
	}
	defer p.close(ctx)
	rt, err := (&modelsCLI{env: env}).runtime(*sf.lib)
	if err != nil {
		return err
	}
	ids, err := sf.benchmarkIDs(ctx, p)
	if err != nil {
		return err
	}
	run, err := sf.runner(p, progressPrinter(env.Stderr))
	if err != nil {
		return err
	}
	var all []scoring.Score
	for _, file := range files {
		info := modelInfo{Path: file, Name: *name, Family: *family}
		if info.Name == "" {
			info.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
		}
		if *preprocess != "" {
			if info.Spec, err = models.ParseSpec(*preprocess); err != nil {
				return fmt.Errorf("%w: --preprocess: %w", errInput, err)
			}
		} else {
			c, err := onnxmodel.ValidateFile(file, onnxmodel.DefaultConfig(), rt)
			if err != nil {
				return err
			}
			if info.Spec, err = (&modelsCLI{env: env}).specFor(ctx, "", p.bucket, c); err != nil {
				return err
			}
		}
		scores, err := scoreModel(ctx, p, rt, run, info, sf, ids)
		if err != nil {
			return err
		}
		all = append(all, scores...)
	}
	if *asJSON {
		return writeJSON(env.Stdout, scoresJSON(all))
	}
	printScores(env.Stdout, all)
	return nil
}

// scoreModel loads a model file, registers it (object store and database)
// and scores it on the benchmarks ids, its activations cached in the store
// for stimulus sets of at most cacheLimit bytes.
func scoreModel(ctx context.Context, p *platform, rt *ort.Runtime, run *runner.Runner, info modelInfo, sf *scoreFlags, ids []string) ([]scoring.Score, error) {
	m, err := loadModel(rt, info, *sf.poolTo)
	if err != nil {
		return nil, err
	}
	m.cache, m.cacheLimit = p.bucket, *sf.cacheLimit
	if err := recordModel(ctx, p, m); err != nil {
		return nil, err
	}
	scores, err := run.Run(ctx, m, ids)
	if err != nil {
		return nil, explainFailure(err)
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

type scoreJSON struct {
	Model            string       `json:"model"`
	ModelHash        string       `json:"model_hash"`
	Benchmark        string       `json:"benchmark"`
	BenchmarkVersion string       `json:"benchmark_version"`
	ScorerVersion    string       `json:"scorer_version"`
	Raw              jsonFloat    `json:"raw"`
	SE               jsonFloat    `json:"se"`
	CI               [2]jsonFloat `json:"ci"`
	Ceiling          jsonFloat    `json:"ceiling"`
	Ceiled           jsonFloat    `json:"ceiled"`
	Layer            string       `json:"layer"`
	Selection        string       `json:"selection"`
	Candidates       string       `json:"candidates"`
	Seed             uint64       `json:"seed"`
	Seconds          float64      `json:"seconds"`
	PeakRSSBytes     int64        `json:"peak_rss_bytes"`
}

func scoresJSON(ss []scoring.Score) []scoreJSON {
	out := make([]scoreJSON, len(ss))
	for i, s := range ss {
		out[i] = scoreJSON{s.ModelName, s.ModelHash, s.BenchmarkID, s.BenchmarkVersion, s.ScorerVersion, jsonFloat(s.Raw), jsonFloat(s.SE),
			[2]jsonFloat{jsonFloat(s.CILow), jsonFloat(s.CIHigh)}, jsonFloat(s.Ceiling), jsonFloat(s.Ceiled), s.Layer, s.Selection, s.Candidates,
			s.Seed, s.Elapsed.Seconds(), s.PeakRSSBytes}
	}
	return out
}

func printScores(w io.Writer, ss []scoring.Score) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tBENCHMARK\tRAW ± SE\t95% CI\tCEILING\tCEILED\tLAYER\tSELECTION")
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%s\t%.3f ± %.3f\t[%.3f, %.3f]\t%s\t%s\t%s\t%s\n", s.ModelName, s.BenchmarkID, s.Raw, s.SE, s.CILow, s.CIHigh,
			num3(s.Ceiling), num3(s.Ceiled), s.Layer, s.Selection)
	}
	tw.Flush()
}

func num3(x float64) string {
	if math.IsNaN(x) {
		return "—"
	}
	return fmt.Sprintf("%.3f", x)
}

// printBoard prints the leaderboard as a table.
func printBoard(w io.Writer, lb *leaderboard.Leaderboard) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "RANK\tMODEL\tAVERAGE")
	for _, b := range lb.Benchmarks {
		fmt.Fprintf(tw, "\t%s", b.ID)
	}
	fmt.Fprintln(tw)
	for _, r := range lb.Rows {
		fmt.Fprintf(tw, "%d\t%s\t%.3f", r.Rank, r.Model.Name, r.Average)
		for _, c := range r.Cells {
			if !c.Present {
				fmt.Fprint(tw, "\t—")
				continue
			}
			fmt.Fprintf(tw, "\t%.3f±%.3f", c.Ceiled, c.CeiledSE)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintf(w, "\naverage: %s\nmissing: %s\nunceiled: %s\n", leaderboard.AggregationRule, leaderboard.MissingRule, leaderboard.UnceiledRule)
}
