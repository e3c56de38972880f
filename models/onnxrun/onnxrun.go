// Package onnxrun adapts a validated ONNX file to the scoring runner's
// model: layers are extracted through ONNX Runtime (package ort, the only
// place that links it) with every large layer average-pooled in the graph,
// and the reduced activations of small stimulus sets are cached in a blob
// store (package activations).
//
// It also opens the runtime, picks a model's preprocessing, and names the
// platform's default models, so that commands only parse flags and wire.
package onnxrun

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/activations"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/ort"
	"github.com/cortexbench/cortexbench/models/reference"
)

// DefaultCacheLimit is the largest stimulus set's activations (bytes per
// pass) cached in the object store.
const DefaultCacheLimit = 128 << 20

// DefaultPoolTo bounds the values per image of every layer: larger layers
// are average-pooled over space in the graph (see ort.Options.PoolTo).
const DefaultPoolTo = 4096

// Info is what the platform records about a model.
type Info struct {
	Path, Name, Family, Version, TrainingData string
	Spec                                      models.Spec
	// ID, when set, is the model entry's ID as registered; empty means
	// models.EntryIDFor(file, Spec, Commitments). Only a legacy entry
	// (registered before entries existed, keyed by the file's sha256) has
	// another one.
	ID string
	// ControlOf and Control, for a control (issue 16): the entry ID of
	// the model it controls and its kind; see models.Metadata.
	ControlOf, Control string

	// Commitments are the layers the submitter declared for brain regions
	// (region → layer id, or a tensor or node name that New resolves to
	// its id; issue 16). They are part of the entry (its ID), and the
	// runner scores them as given on benchmarks scored by region
	// commitment.
	Commitments map[string]string
}

// Model is a validated ONNX model with its layers enumerated: the
// runner's Model.
type Model struct {
	rt      *ort.Runtime
	checked *onnxmodel.Checked
	info    Info
	layers  []models.Layer
	poolTo  int64

	// The reduction (SetReduction; zero: pool to poolTo), pca's settings
	// and the reference set drawn for the benchmark being scored.
	reduction Reduction
	pca       *PCASettings
	ref       *reference.Set
	// MaxLayerBytes bounds one layer's activations under --reduce none
	// (DefaultMaxLayerBytes when 0).
	MaxLayerBytes int64

	// Cache keeps reduced activations; nil: none.
	Cache models.BlobStore
	// CacheLimit bounds the activations of one stimulus set and pass that
	// are cached: small sets are kept, while every layer of a 92-image set
	// (~270 MB for MobileNetV2) or a 1200-image session would fill the disk
	// for little gain: their scores are stored, so a second run extracts
	// nothing anyway.
	CacheLimit int64
	// Log receives warnings (a cache entry that fails its checksum); nil:
	// slog.Default().
	Log *slog.Logger
	// AsGiven runs the model's graph as its file gives it (ort.Options):
	// the reference forward passes of 'cortexbench bench'. Extraction
	// otherwise folds chains of clamping nodes, with the same values.
	AsGiven bool

	// While HoldSessions holds (holds > 0), the session of the last
	// extraction stays open (idle) for the next one with the same key.
	holdMu  sync.Mutex
	holds   int
	idle    *ort.Extractor
	idleKey string
}

func (m *Model) logger() *slog.Logger {
	if m.Log != nil {
		return m.Log
	}
	return slog.Default()
}

// Hash is the model entry's ID, models.EntryIDFor(file, spec,
// commitments): what scores and model RDMs are keyed by, since the same
// file preprocessed another way, or with other declared layers, is
// another model.
func (m *Model) Hash() string {
	if m.info.ID != "" {
		return m.info.ID
	}
	return models.EntryIDFor(m.checked.SHA256, m.info.Spec, m.info.Commitments)
}

// FieldOfView is the model's field of view in degrees of visual angle
// (its spec's fov, models.DefaultFieldOfView unless stated): the runner
// places a benchmark's stimuli on this screen when the benchmark states
// their size (issue 16).
func (m *Model) FieldOfView() float64 { return m.info.Spec.FOV() }

// Committed returns the declared commitments (region → layer id), for
// the runner (runner.DeclaredCommitments); nil when none.
func (m *Model) Committed() map[string]string { return m.info.Commitments }

// FileHash is the hex sha256 of the ONNX file. Cached activations are
// keyed by it together with the spec's text.
func (m *Model) FileHash() string { return m.checked.SHA256 }

func (m *Model) Name() string           { return m.info.Name }
func (m *Model) Layers() []models.Layer { return m.layers }

// SetName changes the name scores are stored under (the name of the
// model entry as registered, when it was registered before).
func (m *Model) SetName(name string) { m.info.Name = name }

// Checked is the validated file.
func (m *Model) Checked() *onnxmodel.Checked { return m.checked }

// Info is what was said about the model when it was loaded.
func (m *Model) Info() Info { return m.info }

// Metadata is the model's record in the models registry.
func (m *Model) Metadata() models.Metadata {
	c := m.checked
	return models.Metadata{ID: m.Hash(), File: c.SHA256, Name: m.info.Name, Version: m.info.Version, Family: m.info.Family, TrainingData: m.info.TrainingData,
		Parameters: c.Parameters, FileBytes: int64(len(c.Data)), Opset: c.Opset, Input: c.Input, Outputs: c.Outputs, Spec: m.info.Spec, Layers: len(m.layers),
		ControlOf: m.info.ControlOf, Control: m.info.Control, Commitments: m.info.Commitments}
}

// Features is the layer's values per image after in-graph pooling (and
// PCA, under pca:K); a layer of unknown shape counts as poolTo (only the
// feature budget uses it).
func (m *Model) Features(l models.Layer) int {
	q := m.pooled(l)
	if m.pca != nil {
		return m.pcaFeatures(q)
	}
	return q
}

// pooled is the layer's values per image after in-graph pooling.
func (m *Model) pooled(l models.Layer) int {
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
// activations fit CacheLimit bytes.
func (m *Model) Extract(ctx context.Context, stim models.Stimuli, layers []models.Layer, c models.Consumer, p models.Progress) error {
	opts := ort.Options{PoolTo: m.poolTo, AsGiven: m.AsGiven}
	keyed, ok := stim.(models.KeyedStimuli)
	if m.Cache == nil || !ok || m.activationBytes(stim.Len(), layers) > m.CacheLimit {
		return m.extract(ctx, stim, layers, opts, c, p)
	}
	key := func(l models.Layer) activations.Key {
		return activations.Key{Model: m.FileHash(), Stimuli: keyed.Key(), Layer: l.ID, Preprocess: m.info.Spec.String(), Reduction: m.cacheReduction(opts)}
	}
	missing, err := activations.Missing(ctx, m.Cache, layers, key)
	if err != nil {
		return err
	}
	todo := map[string]bool{}
	for _, l := range missing {
		todo[l.ID] = true
	}
	// A corrupt or unverified entry is extracted again, in the layers'
	// order, and stored over the bad one.
	missing = missing[:0]
	for _, l := range layers {
		if todo[l.ID] {
			missing = append(missing, l)
			continue
		}
		rows, cols, data, err := activations.Load(ctx, m.Cache, key(l))
		if activations.Untrusted(err) {
			m.logger().Warn("cached activations are not trusted: extracting the layer again and replacing them", "layer", l.ID, "err", err)
			missing = append(missing, l)
			continue
		}
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
	caching := &activations.Caching{Store: m.Cache, Key: key, Total: stim.Len(), Next: c}
	if err := m.extract(ctx, stim, missing, opts, caching, p); err != nil {
		return err
	}
	return caching.Finish(ctx)
}

func (m *Model) extract(ctx context.Context, stim models.Stimuli, layers []models.Layer, opts ort.Options, c models.Consumer, p models.Progress) error {
	if m.pca != nil {
		return m.extractPCA(ctx, stim, layers, opts, c, p)
	}
	ex, key, err := m.extractor(layers, opts)
	if err != nil {
		return err
	}
	err = ex.Run(ctx, stim, c, p)
	m.putExtractor(ex, key, err)
	return err
}

// HoldSessions keeps, until release is called, the ONNX Runtime session
// of the last extraction open, and the next extraction of the same layers
// with the same options runs on it instead of a new one: the sessions of
// a benchmark with several recording sessions (Cowley V4: 8 image sets,
// one set of candidate layers). A new MobileNetV2 session costs ~0.2 s to
// create and ~0.6 s of warm-up on its first images (its memory first
// touched); a session computes the same values whatever it ran before.
// An extraction of other layers closes the idle session before opening
// its own, so at most one is open while nothing extracts. Holds nest; the
// idle session is closed when the last is released.
func (m *Model) HoldSessions() (release func()) {
	m.holdMu.Lock()
	m.holds++
	m.holdMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			m.holdMu.Lock()
			m.holds--
			var old *ort.Extractor
			if m.holds == 0 {
				old, m.idle = m.idle, nil
			}
			m.holdMu.Unlock()
			if old != nil {
				old.Close()
			}
		})
	}
}

// extractorKey names what an extractor was made for; "" when it cannot
// be reused (a units selection without its key).
func extractorKey(layers []models.Layer, o ort.Options) string {
	if o.Units != nil && o.UnitsKey == "" {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pool %d units %q overlap %t serial %t pattern %t as given %t:", o.PoolTo, o.UnitsKey, o.Overlap, o.Serial, o.MemPattern, o.AsGiven)
	for _, l := range layers {
		b.WriteString(" ")
		b.WriteString(l.ID)
	}
	return b.String()
}

// extractor returns the idle session when it was made for these layers
// and options, else a new one (closing the idle one first: its memory goes
// to the new session).
func (m *Model) extractor(layers []models.Layer, opts ort.Options) (*ort.Extractor, string, error) {
	key := extractorKey(layers, opts)
	m.holdMu.Lock()
	old, oldKey := m.idle, m.idleKey
	m.idle = nil
	m.holdMu.Unlock()
	if old != nil {
		if key != "" && oldKey == key {
			return old, key, nil
		}
		old.Close()
	}
	ex, err := m.rt.NewExtractor(m.checked, m.info.Spec, layers, opts)
	return ex, key, err
}

// putExtractor keeps ex idle while sessions are held (and no other is
// idle), else closes it; a session whose run failed is closed.
func (m *Model) putExtractor(ex *ort.Extractor, key string, runErr error) {
	m.holdMu.Lock()
	if m.holds > 0 && m.idle == nil && key != "" && runErr == nil {
		m.idle, m.idleKey = ex, key
		m.holdMu.Unlock()
		return
	}
	m.holdMu.Unlock()
	ex.Close()
}

func (m *Model) activationBytes(n int, layers []models.Layer) int64 {
	var b int64
	for _, l := range layers {
		b += int64(n) * int64(m.Features(l)) * 4
	}
	return b
}

// Load validates the file info.Path and enumerates its layers.
func Load(rt *ort.Runtime, info Info, poolTo int64) (*Model, error) {
	c, err := onnxmodel.ValidateFile(info.Path, onnxmodel.DefaultConfig(), rt)
	if err != nil {
		return nil, err
	}
	m, err := New(rt, c, info, poolTo)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", info.Path, err)
	}
	return m, nil
}

// New checks the preprocessing against the model's input, enumerates
// its layers and resolves the declared commitments to layer ids (an
// unknown layer is an error wrapping models.ErrCommitments that names the
// closest ids).
func New(rt *ort.Runtime, c *onnxmodel.Checked, info Info, poolTo int64) (*Model, error) {
	if err := onnxmodel.CheckSpec(c, info.Spec); err != nil {
		return nil, err
	}
	layers, err := rt.Inspect(c.Model)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	if info.Commitments, err = models.ResolveCommitments(layers, info.Commitments); err != nil {
		return nil, err
	}
	return &Model{rt: rt, checked: c, info: info, layers: layers, poolTo: poolTo}, nil
}

// Inspect validates the file (with ONNX Runtime) and enumerates its layers.
func Inspect(rt *ort.Runtime, file string) (*onnxmodel.Checked, []models.Layer, error) {
	c, err := onnxmodel.ValidateFile(file, onnxmodel.DefaultConfig(), rt)
	if err != nil {
		return nil, nil, err
	}
	layers, err := rt.Inspect(c.Model)
	if err != nil {
		return nil, nil, fmt.Errorf("inspect %s: %w", file, err)
	}
	return c, layers, nil
}

// OpenRuntime loads ONNX Runtime from lib. The default path is relative
// to the repository: it is also tried beside the binary
// (bin/cortexbench → third_party/...).
func OpenRuntime(lib string) (*ort.Runtime, error) {
	cfg := ort.DefaultConfig()
	cfg.LibraryPath = lib
	if lib == ort.DefaultLibraryPath {
		if _, err := os.Stat(lib); err != nil {
			if exe, err := os.Executable(); err == nil {
				if alt := filepath.Join(filepath.Dir(exe), "..", lib); fileExists(alt) {
					cfg.LibraryPath = alt
				}
			}
		}
	}
	return ort.Open(cfg)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// SpecFor picks the preprocessing: the spec text when given, else the
// spec of the same file's one entry in the models registry kept in store
// (when not nil; a file registered with several specs is an error asking
// for --preprocess), else the model's default (onnxmodel.DefaultSpec: the
// preset imagenet for a 3-channel NCHW float input; an error giving
// matching specs for any other input). The notes are for the user's
// stderr: which spec was picked when none was given, or the given spec's
// warnings (models.Spec.Warnings).
func SpecFor(ctx context.Context, text string, store models.BlobStore, c *onnxmodel.Checked) (models.Spec, []string, error) {
	if text != "" {
		s, err := models.ParseSpec(text)
		if err != nil {
			return s, nil, fmt.Errorf("--preprocess: %w", err)
		}
		return s, onnxmodel.SpecWarnings(c, s), nil
	}
	if store != nil {
		reg := &models.Registry{Store: store}
		entries, err := reg.EntriesOf(ctx, c.SHA256)
		if err != nil {
			return models.Spec{}, nil, err
		}
		switch len(entries) {
		case 0:
		case 1:
			return entries[0].Spec, []string{fmt.Sprintf("preprocessing: %s (this file's registered entry %q; pass --preprocess to change: another spec is another entry)",
				entries[0].Spec, entries[0].Name)}, nil
		default:
			specs := make([]string, len(entries))
			for i, e := range entries {
				specs[i] = fmt.Sprintf("%q (%s)", e.Spec.String(), e.Name)
			}
			return models.Spec{}, nil, fmt.Errorf("this file is registered with %d preprocessing specs, one entry each: say which with --preprocess: %s",
				len(entries), strings.Join(specs, ", "))
		}
	}
	s, name, err := onnxmodel.DefaultSpec(c)
	if err != nil {
		return models.Spec{}, nil, fmt.Errorf("--preprocess: %w", err)
	}
	return s, []string{onnxmodel.DefaultNote(name, "--preprocess")}, nil
}

// Defaults are the models the main job scores: both MobileNets in float32
// from the shared models folder modelsDir, and an untrained control made
// by shuffling MobileNetV2's weights within each tensor (seed 1), written
// once under stateDir. A missing model file is an error wrapping
// os.ErrNotExist.
func Defaults(modelsDir, stateDir string) ([]Info, error) {
	v2 := filepath.Join(modelsDir, "mobilenet_v2_1.0_224", "mobilenet_v2_1.0_224_float32.onnx")
	v1 := filepath.Join(modelsDir, "mobilenet_v1_0.5_128", "mobilenet_v1_0.5_128_float32.onnx")
	for _, p := range []string{v2, v1} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("model %s: %w", p, err)
		}
	}
	control := filepath.Join(stateDir, "models", "mobilenet_v2_1.0_224_float32_shuffled_seed1.onnx")
	data, err := os.ReadFile(v2)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	v2Entry := models.EntryID(hex.EncodeToString(sum[:]), models.MobileNetV2Float)
	if _, err := os.Stat(control); err != nil {
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
	return []Info{
		{Path: v2, Name: "MobileNetV2-1.0-224", Family: "mobilenet", Version: "1.0", TrainingData: "ImageNet-1k", Spec: models.MobileNetV2Float},
		{Path: v1, Name: "MobileNetV1-0.5-128", Family: "mobilenet", Version: "0.5", TrainingData: "ImageNet-1k", Spec: models.MobileNetV1Float},
		{Path: control, Name: "MobileNetV2-shuffled (control)", Family: "control", Version: "seed1", TrainingData: "none (weights shuffled per tensor)", Spec: models.MobileNetV2Float,
			ControlOf: v2Entry, Control: "shuffled"},
	}, nil
}
