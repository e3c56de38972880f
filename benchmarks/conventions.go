package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/cortexbench/cortexbench/scoring/ceiling"
)

// regionsFile is the catalogue's table of commit benchmarks by region.
const regionsFile = "regions.yaml"

var regions struct {
	once  sync.Once
	table map[string][]string
	err   error
}

// CommitBenchmarks returns the built-in catalogue's commit benchmarks of
// region (catalogue/regions.yaml), nil when it names none.
func CommitBenchmarks(region string) ([]string, error) {
	regions.once.Do(func() {
		data, err := catalogueFS.ReadFile("catalogue/" + regionsFile)
		if err != nil {
			regions.err = fmt.Errorf("read built-in catalogue: %w", err)
			return
		}
		dec := yaml.NewDecoder(strings.NewReader(string(data)))
		dec.KnownFields(true)
		if err := dec.Decode(&regions.table); err != nil {
			regions.err = fmt.Errorf("read built-in catalogue/%s: %v", regionsFile, yamlProblem(err))
		}
	})
	if regions.err != nil {
		return nil, regions.err
	}
	return slices.Clone(regions.table[region]), nil
}

// conventions returns the conventions the manifest states, defaults
// applied except those that need the data or the registry (selection,
// region, commit benchmarks: see resolveSelection).
func (m *Manifest) conventions() Conventions {
	var c Conventions
	if sc := m.Scoring; sc != nil {
		if t, _ := ceiling.ParseTransform(sc.Transform); t != ceiling.TransformRatio {
			c.Transform = t // the default stays empty: versions do not change
		}
		if sc.Features != "as-is" {
			c.Features = sc.Features
		}
	}
	switch {
	case m.Stimuli != nil:
		c.Degrees = m.Stimuli.Degrees
	case len(m.Sessions) > 0:
		c.Degrees = m.Sessions[0].Stimuli.Degrees // all equal (checked)
	}
	return c
}

// resolveSelection settles how b's layer is selected, from the manifest
// and the number of stimuli, and resolves a committed benchmark's commit
// benchmarks against the registry. Defaults: a benchmark with a partner
// selects on it (the one-benchmark case of commitment; nothing recorded,
// so versions stay); an rsa or ridge benchmark with fewer than
// commitBelow stimuli commits; everything else selects held-out on its
// own splits (recorded as "", as before conventions existed).
func (r *Registry) resolveSelection(ctx context.Context, m *Manifest, b *Benchmark) error {
	if b.Partner != "" {
		return nil
	}
	sc := m.Scoring
	if sc == nil {
		sc = &ScoringSpec{}
	}
	_, _, _, n := b.Dataset.Counts()
	simple := b.Metric.Kind == MetricRSA || b.Metric.Kind == MetricRidge
	commit := sc.Selection == SelectionCommit || len(sc.CommitOn) > 0 || sc.Region != "" ||
		(sc.Selection == "" && simple && n < commitBelow)
	if !commit {
		// Held-out selection is recorded as "" whether stated or not: it
		// is the selection of every benchmark before conventions, so a
		// small benchmark that opts out keeps its version and its scores.
		if b.Private {
			return invalid(m.name(), "a private benchmark selects its layer on public data: give a partner or scoring.selection commit")
		}
		return nil
	}
	region := sc.Region
	if region == "" {
		region = b.Metadata.Region
	}
	on := sc.CommitOn
	if len(on) == 0 {
		var err error
		if on, err = CommitBenchmarks(region); err != nil {
			return err
		}
		if len(on) == 0 {
			why := "it is committed"
			if sc.Selection == "" {
				why = fmt.Sprintf("it has %d stimuli (under %d, an rsa or ridge benchmark commits by default)", n, commitBelow)
			}
			return invalid(m.name(), "%s, and no commit benchmark is known for region %q (catalogue/regions.yaml names none): "+
				"add scoring.commit_on with the ids of the region's public benchmarks to choose the layer on, "+
				"or scoring.selection held-out to select on this benchmark's own seeded splits (noisy under %d stimuli)", why, region, commitBelow)
		}
	}
	for _, id := range on {
		if id == b.ID {
			return invalid(m.name(), "commit benchmark %q is this benchmark: a benchmark cannot commit on itself", id)
		}
		p, err := r.Benchmark(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return invalid(m.name(), "commit benchmark %q (region %s) is not in the registry; add it first", id, region)
		} else if err != nil {
			return err
		}
		if p.Private {
			return invalid(m.name(), "commit benchmark %q is private; a layer is committed on public benchmarks", id)
		}
		if p.Conventions.Selection == SelectionCommit || p.Partner != "" {
			return invalid(m.name(), "commit benchmark %q itself selects its layer elsewhere (commitment or partner); commit on a benchmark that selects on its own data", id)
		}
		if pr := p.CommitRegion(); pr != region {
			return invalid(m.name(), "commit benchmark %q is of region %q, this benchmark of %q; commit on benchmarks of the same region (or set scoring.region)", id, pr, region)
		}
	}
	b.Conventions.Selection, b.Conventions.Region, b.Conventions.CommitOn = SelectionCommit, region, slices.Clone(on)
	return nil
}

// CommitRegion is the region b's layer is committed for: the region its
// conventions state, else its metadata's.
func (b *Benchmark) CommitRegion() string {
	if b.Conventions.Region != "" {
		return b.Conventions.Region
	}
	return b.Metadata.Region
}
