package benchmarks

import (
	"context"
	"embed"
	"fmt"
	"path"
	"slices"
	"strings"
)

// catalogueFS holds the built-in manifests. Their paths are relative to
// the datasets folder (../shared/datasets by default), not to themselves.
//
//go:embed catalogue/*.yaml
var catalogueFS embed.FS

// Builtin returns the built-in manifests, public ones first so that every
// partner is imported before the private benchmark that names it.
func Builtin() ([]*Manifest, error) {
	ents, err := catalogueFS.ReadDir("catalogue")
	if err != nil {
		return nil, fmt.Errorf("read built-in catalogue: %w", err)
	}
	var out []*Manifest
	for _, e := range ents {
		if e.Name() == regionsFile {
			continue // the commit benchmarks by region, not a manifest
		}
		name := path.Join("catalogue", e.Name())
		data, err := catalogueFS.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read built-in catalogue: %w", err)
		}
		m, err := ParseManifest("benchmarks/"+name, data)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	slices.SortStableFunc(out, func(a, b *Manifest) int {
		if a.Private != b.Private {
			if a.Private {
				return 1
			}
			return -1
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// ImportBuiltin adds the built-in benchmarks named by ids (all when ids is
// empty), reading their data from dataDir. Importing again is a no-op for
// benchmarks whose data have not changed. Built-ins are imported on
// request rather than on first use, so that the registry never reads
// files behind a caller's back and a missing datasets folder is reported
// once, here.
func (r *Registry) ImportBuiltin(ctx context.Context, dataDir string, ids []string, opts AddOptions) ([]AddResult, error) {
	all, err := Builtin()
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, id := range ids {
		if !slices.ContainsFunc(all, func(m *Manifest) bool { return m.ID == id }) {
			return nil, fmt.Errorf("%w: %q is not a built-in benchmark", ErrNotFound, id)
		}
		want[id] = true
	}
	// A private benchmark needs its partner in the registry.
	for _, m := range all {
		if want[m.ID] && m.Partner != "" {
			if _, err := r.Benchmark(ctx, m.Partner); err != nil {
				want[m.Partner] = true
			}
		}
	}
	var out []AddResult
	for _, m := range all {
		if len(want) > 0 && !want[m.ID] {
			continue
		}
		res, err := r.AddManifest(ctx, m, dataDir, opts)
		if err != nil {
			return out, fmt.Errorf("import built-in %s from %s: %w", m.ID, dataDir, err)
		}
		out = append(out, res)
	}
	return out, nil
}
