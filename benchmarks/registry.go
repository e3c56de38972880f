package benchmarks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cortexbench/cortexbench/storage/objstore"
)

// Store is the object storage the registry needs. objstore.Bucket
// implementations satisfy it; a missing object must give an error for
// which objstore.IsNotFound is true. A store that also has
// Exists(ctx, key) (bool, error) is asked before a blob is uploaded.
type Store interface {
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	Put(ctx context.Context, key string, r io.Reader) error
	List(ctx context.Context, opts objstore.ListOptions) (objstore.ListPage, error)
}

type existser interface {
	Exists(ctx context.Context, key string) (bool, error)
}

// Object keys. Blobs are content-addressed; an entry is written last and
// is what makes a benchmark exist.
const (
	blobPrefix  = "benchmarks/blobs/sha256/"
	entryPrefix = "benchmarks/entries/"
	// entryFormat is bumped when the stored entry changes incompatibly.
	entryFormat = 1
)

func blobKey(sha string) string { return blobPrefix + sha }

func entryKey(id, version string) string { return entryPrefix + id + "/" + version + ".json" }

// Registry adds, lists and opens benchmarks kept in a Store. It holds no
// state of its own and is safe for concurrent use. The current version of
// a benchmark is the one added last (by its Created time). Two concurrent
// Adds of different data under one new id can both succeed, as two
// versions; adding is a maintainer's action, so this is not guarded.
type Registry struct {
	store Store
	now   func() time.Time
}

// NewRegistry returns a registry over store.
func NewRegistry(store Store) *Registry {
	return &Registry{store: store, now: time.Now}
}

// AddOptions controls Add.
type AddOptions struct {
	// NewVersion allows adding different data or settings under an
	// identifier that already exists; the new version becomes current.
	NewVersion bool
}

// AddStatus says what Add did.
type AddStatus string

const (
	StatusAdded      AddStatus = "added"       // a new benchmark
	StatusNewVersion AddStatus = "new version" // a new version of an existing one
	StatusUnchanged  AddStatus = "unchanged"   // this version was already there
	StatusUpdated    AddStatus = "updated"     // same version, new title/metadata/parent
)

// AddResult is what Add reports.
type AddResult struct {
	Status  AddStatus
	Summary Summary
	// Repaired lists the data files (manifest paths) whose stored copy was
	// corrupt and has been replaced by this add.
	Repaired []string
}

// Add validates the manifest at path and its files, and imports them.
func (r *Registry) Add(ctx context.Context, path string, opts AddOptions) (AddResult, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return AddResult{}, invalid(path, "%s", openProblem(err))
	}
	m, err := ParseManifest(path, data)
	if err != nil {
		return AddResult{}, err
	}
	return r.AddManifest(ctx, m, filepath.Dir(path), opts)
}

// AddManifest imports a parsed manifest whose paths are relative to dir.
// Order: validate every file, compute the version, compare with what the
// registry holds, compute the ceiling, upload blobs, write the entry.
func (r *Registry) AddManifest(ctx context.Context, m *Manifest, dir string, opts AddOptions) (AddResult, error) {
	if err := m.check(); err != nil {
		return AddResult{}, invalid(m.name(), "%s", err.Error())
	}
	src, err := newSource(dir)
	if err != nil {
		return AddResult{}, err
	}
	defer src.Close()
	in, err := src.readDataset(m)
	if err != nil {
		return AddResult{}, inFolder(dir, err)
	}
	met, pol, splits := m.settings()
	b := Benchmark{
		ID: m.ID, Title: m.Title, Parent: m.Parent, Private: m.Private, Partner: m.Partner,
		Metadata: Metadata{Species: m.Metadata.Species, Region: m.Metadata.Region, Method: m.Metadata.Method,
			Licence: m.Metadata.Licence, Citation: strings.TrimSpace(m.Metadata.Citation), Description: m.Metadata.Description},
		Metric: met, Ceiling: pol, Splits: splits, Dataset: in.dataset, Conventions: m.conventions(),
	}
	if splits.StratifyByLabel {
		for _, set := range b.stimulusSets() {
			if set.LabelColumn == "" {
				return AddResult{}, invalid(m.name(), "splits.stratify_by_label needs labels for every stimulus set")
			}
		}
	}
	if err := r.resolveSelection(ctx, m, &b); err != nil {
		return AddResult{}, err
	}
	if err := checkBound(m, pol, in); err != nil {
		return AddResult{}, err
	}
	b.Version, err = versionOf(&b)
	if err != nil {
		return AddResult{}, err
	}
	if m.Partner != "" {
		p, err := r.Benchmark(ctx, m.Partner)
		if errors.Is(err, ErrNotFound) {
			return AddResult{}, invalid(m.name(), "partner %q is not in the registry; add it first", m.Partner)
		} else if err != nil {
			return AddResult{}, err
		}
		if p.Private {
			return AddResult{}, invalid(m.name(), "partner %q is private; layer selection needs a public benchmark", m.Partner)
		}
		if p.Metric.Kind != b.Metric.Kind {
			return AddResult{}, invalid(m.name(), "partner %q uses metric %s, this benchmark %s; they must match", m.Partner, p.Metric.Kind, b.Metric.Kind)
		}
	}

	versions, err := r.versions(ctx, m.ID)
	if err != nil {
		return AddResult{}, err
	}
	status := StatusAdded
	for _, v := range versions {
		if v.Version != b.Version {
			continue
		}
		// Same data and settings: keep the stored ceiling and creation
		// time, refresh only descriptive fields.
		// Its stored files are checked, and corrupt copies replaced: adding
		// a benchmark again is how a damaged store is repaired.
		b.Created, b.CeilingValue = v.Created, v.CeilingValue
		repaired, err := r.putBlobs(ctx, &b, src)
		if err != nil {
			return AddResult{}, err
		}
		if b.Title == v.Title && b.Parent == v.Parent && b.Metadata == v.Metadata {
			return AddResult{Status: StatusUnchanged, Summary: b.Summary(), Repaired: repaired}, nil
		}
		if err := r.putEntry(ctx, &b); err != nil {
			return AddResult{}, err
		}
		return AddResult{Status: StatusUpdated, Summary: b.Summary(), Repaired: repaired}, nil
	}
	if len(versions) > 0 {
		if !opts.NewVersion {
			cur := versions[len(versions)-1]
			return AddResult{}, fmt.Errorf("%s: add %s: %w: version %s is registered and these data or settings give version %s; "+
				"to register them as a new version run 'cortexbench benchmarks add --new-version MANIFEST' (AddOptions.NewVersion), "+
				"or choose a new id", m.name(), m.ID, ErrExists, cur.Version, b.Version)
		}
		status = StatusNewVersion
	}

	b.CeilingValue, err = computeCeiling(pol, met, in)
	if err != nil {
		return AddResult{}, inFolder(dir, err)
	}
	repaired, err := r.putBlobs(ctx, &b, src)
	if err != nil {
		return AddResult{}, err
	}
	b.Created = r.now().UTC()
	if err := r.putEntry(ctx, &b); err != nil {
		return AddResult{}, err
	}
	return AddResult{Status: status, Summary: b.Summary(), Repaired: repaired}, nil
}

// putBlobs stores b's data files, except order files and label CSVs, whose
// content is in the entry (stimulus order, labels). It returns the files
// whose stored copy was corrupt and has been replaced.
func (r *Registry) putBlobs(ctx context.Context, b *Benchmark, src *source) ([]string, error) {
	var repaired []string
	for _, f := range b.Dataset.files() {
		fixed, err := r.putBlob(ctx, src.files[f.Path])
		if err != nil {
			return repaired, err
		}
		if fixed {
			repaired = append(repaired, f.Path)
		}
	}
	return repaired, nil
}

// inFolder makes a data file's name in a ValidationError a path the user
// can open: relative to the manifest's folder in the manifest, joined with
// that folder here.
func inFolder(dir string, err error) error {
	var ve *ValidationError
	if errors.As(err, &ve) && dir != "" && dir != "." {
		return &ValidationError{File: filepath.Join(dir, filepath.FromSlash(ve.File)), Problem: ve.Problem}
	}
	return err
}

// putBlob uploads f unless an intact copy is stored. A stored copy is read
// back and checked against its hash; a corrupt one is replaced, and
// reported as repaired.
func (r *Registry) putBlob(ctx context.Context, f *dataFile) (repaired bool, err error) {
	key := blobKey(f.SHA256)
	if ex, ok := r.store.(existser); ok {
		if there, err := ex.Exists(ctx, key); err == nil && there {
			err := checkBlob(ctx, r.store, f.File)
			if err == nil {
				return false, nil
			}
			// Unreadable for another reason: uploading again is harmless.
			repaired = objstore.IsCorrupt(err)
		}
	}
	var src io.Reader = bytes.NewReader(f.data)
	if f.data == nil && f.reopen != nil { // a streamed .npy: stored from the file
		rc, err := f.reopen()
		if err != nil {
			return false, err
		}
		defer rc.Close()
		src = rc
	}
	if err := r.store.Put(ctx, key, src); err != nil {
		return false, fmt.Errorf("store %s as %s: %w", f.Path, key, err)
	}
	return repaired, nil
}

// checkBlob reads the stored copy of f through and verifies it.
func checkBlob(ctx context.Context, store Store, f File) error {
	rc, err := openBlob(ctx, store, f)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}

func (r *Registry) putEntry(ctx context.Context, b *Benchmark) error {
	data, err := json.MarshalIndent(entry{Format: entryFormat, Benchmark: *b}, "", " ")
	if err != nil {
		return fmt.Errorf("encode entry of %s: %w", b.ID, err)
	}
	if err := r.store.Put(ctx, entryKey(b.ID, b.Version), bytes.NewReader(data)); err != nil {
		return fmt.Errorf("store entry of %s: %w", b.ID, err)
	}
	return nil
}

// entry is the stored catalogue record.
type entry struct {
	Format    int
	Benchmark Benchmark
}

// versionOf hashes what determines a score: data (contents, names,
// labels, shapes), metric, ceiling and split settings, privacy and partner.
func versionOf(b *Benchmark) (string, error) {
	h := sha256.New()
	var conv *Conventions
	if !b.Conventions.IsZero() {
		conv = &b.Conventions
	}
	err := json.NewEncoder(h).Encode(struct {
		Format      int
		Private     bool
		Partner     string
		Metric      any
		Ceiling     CeilingPolicy
		Splits      Splits
		Dataset     any
		Conventions *Conventions `json:",omitempty"`
	}{entryFormat, b.Private, b.Partner, versionMetric(b.Metric), b.Ceiling, b.Splits, versionDataset(b.Dataset), conv})
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", b.ID, err)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// versionMetric is what of m enters the version. RSA and ridge metrics
// hash exactly as before the advanced metrics existed, so their versions
// (and the scores keyed by them) stay valid; the advanced kinds add their
// own settings.
func versionMetric(m Metric) any {
	type v1 struct {
		Kind                 MetricKind
		Distance, Comparison string
		Folds                int
		Alphas               []float64
		Seed                 uint64
	}
	old := v1{m.Kind, m.Distance, m.Comparison, m.Folds, m.Alphas, m.Seed}
	if !m.Kind.Advanced() {
		return old
	}
	return struct {
		v1
		Layers     int
		Sets       []string
		Components int
	}{old, m.Layers, m.Sets, m.Components}
}

// versionDataset is what of d enters the version: the dataset without
// the Times and Training fields unless one is set, for the reason of
// versionMetric.
func versionDataset(d Dataset) any {
	if d.Times != nil || d.Training != nil {
		return d
	}
	return struct {
		Kind     Kind
		RDMs     *Array
		Stimuli  *StimulusSet
		Sessions []Session
	}{d.Kind, d.RDMs, d.Stimuli, d.Sessions}
}

func (b *Benchmark) stimulusSets() []*StimulusSet {
	var out []*StimulusSet
	if b.Dataset.Stimuli != nil {
		out = append(out, b.Dataset.Stimuli)
	}
	for i := range b.Dataset.Sessions {
		out = append(out, &b.Dataset.Sessions[i].Stimuli)
	}
	return out
}

// listKeys lists every key under prefix.
func (r *Registry) listKeys(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	opts := objstore.ListOptions{Prefix: prefix}
	for {
		page, err := r.store.List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		for _, o := range page.Objects {
			keys = append(keys, o.Key)
		}
		if page.Next == "" || page.Next <= opts.After {
			return keys, nil
		}
		opts.After = page.Next
	}
}

func (r *Registry) readEntry(ctx context.Context, key string) (*Benchmark, error) {
	rc, err := r.store.Get(ctx, key)
	if err != nil {
		if objstore.IsNotFound(err) {
			ref := strings.Replace(strings.TrimSuffix(strings.TrimPrefix(key, entryPrefix), ".json"), "/", "@", 1)
			return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
		}
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	var e entry
	if err := json.NewDecoder(rc).Decode(&e); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	if e.Format != entryFormat {
		return nil, fmt.Errorf("decode %s: entry format %d, this build reads %d", key, e.Format, entryFormat)
	}
	return &e.Benchmark, nil
}

// versions returns every stored version of id, oldest first.
func (r *Registry) versions(ctx context.Context, id string) ([]*Benchmark, error) {
	keys, err := r.listKeys(ctx, entryPrefix+id+"/")
	if err != nil {
		return nil, err
	}
	var out []*Benchmark
	for _, k := range keys {
		b, err := r.readEntry(ctx, k)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	slices.SortStableFunc(out, func(a, b *Benchmark) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// Benchmark returns the benchmark ref names: "ID" for its current
// (latest) version or "ID@VERSION" for a given one. The result may hold a
// private benchmark's stimulus names: give it to the runner, not to
// clients (serve Summary()).
func (r *Registry) Benchmark(ctx context.Context, ref string) (*Benchmark, error) {
	id, version, _ := strings.Cut(ref, "@")
	if !idPattern.MatchString(id) {
		return nil, fmt.Errorf("%w: %q is not a benchmark id", ErrNotFound, ref)
	}
	if version != "" {
		if strings.ContainsAny(version, "/.") {
			return nil, fmt.Errorf("%w: %q is not a benchmark version", ErrNotFound, ref)
		}
		return r.readEntry(ctx, entryKey(id, version))
	}
	vs, err := r.versions(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return vs[len(vs)-1], nil
}

// Show returns the summary of a benchmark ("ID" or "ID@VERSION").
func (r *Registry) Show(ctx context.Context, ref string) (Summary, error) {
	b, err := r.Benchmark(ctx, ref)
	if err != nil {
		return Summary{}, err
	}
	return b.Summary(), nil
}

// List returns the summary of the current version of every benchmark,
// sorted by id.
func (r *Registry) List(ctx context.Context) ([]Summary, error) {
	keys, err := r.listKeys(ctx, entryPrefix)
	if err != nil {
		return nil, err
	}
	latest := map[string]*Benchmark{}
	for _, k := range keys {
		b, err := r.readEntry(ctx, k)
		if err != nil {
			return nil, err
		}
		if cur := latest[b.ID]; cur == nil || b.Created.After(cur.Created) {
			latest[b.ID] = b
		}
	}
	out := make([]Summary, 0, len(latest))
	for _, b := range latest {
		out = append(out, b.Summary())
	}
	slices.SortFunc(out, func(a, b Summary) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
