package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
)

// Reducer is implemented by a Model whose wide layers may be reduced
// otherwise than by the platform's default (issue 16: --reduce). Before
// scoring a benchmark the runner calls ReductionFor with the images the
// benchmark shows; the model readies itself for that benchmark (e.g.
// draws a PCA reference set without them) and names the reduction: ""
// for the default, else e.g. "pool:1024", "none" or "pca:1000@<ref>". The
// name is in the score's key (scoring.ScorerVersionFor) and conventions,
// so a reduced score is never stored under, or read as, the default's.
type Reducer interface {
	ReductionFor(ctx context.Context, used models.UsedImages) (string, error)
}

// reductionFor readies m for l and returns the reduction's name; "" for a
// model that is not a Reducer.
func reductionFor(ctx context.Context, m Model, l *benchmarks.Loaded) (string, error) {
	rm, ok := m.(Reducer)
	if !ok {
		return "", nil
	}
	used := usedImages(l)
	red, err := rm.ReductionFor(ctx, used)
	if err != nil {
		return "", fmt.Errorf("reduce the layers of %s on %s: %w", m.Name(), l.Benchmark.ID, err)
	}
	return red, nil
}

// ready readies m for l (reductionFor) and notes the reduction in the
// env: layer RDMs are shared between benchmarks only under the same one,
// and only the default's model RDMs are kept.
func (r *Runner) ready(ctx context.Context, m Model, l *benchmarks.Loaded) (string, error) {
	red, err := reductionFor(ctx, m, l)
	if err != nil {
		return "", err
	}
	r.env.reduction = red
	return red, nil
}

// scorerVersion is the scorer version of a score under reduction red.
func scorerVersion(red string) string { return scoring.ScorerVersionFor(red) }

// stimulusSets lists l's stimulus sets: the benchmark's, its training
// images and its sessions'.
func stimulusSets(l *benchmarks.Loaded) []*benchmarks.Stimuli {
	var sets []*benchmarks.Stimuli
	for _, s := range []*benchmarks.Stimuli{l.Stimuli, l.Training} {
		if s != nil {
			sets = append(sets, s)
		}
	}
	for _, s := range l.Sessions {
		if s.Stimuli != nil {
			sets = append(sets, s.Stimuli)
		}
	}
	return sets
}

// usedImages lists l's stimulus sets (the benchmark's, its sessions' and
// its training images).
func usedImages(l *benchmarks.Loaded) models.UsedImages {
	sets := stimulusSets(l)
	u := models.UsedImages{Benchmark: l.Benchmark.ID, Archives: map[string]bool{}}
	for _, s := range sets {
		u.Stimuli = max(u.Stimuli, s.Len())
		if z := s.Set().Zip; z != nil {
			u.Archives[z.SHA256] = true
		}
	}
	u.Content = func(ctx context.Context) (map[string]bool, error) {
		out := map[string]bool{}
		for _, s := range sets {
			for i, st := range s.Set().Stimuli {
				if st.File != nil {
					out[st.File.SHA256] = true
					continue
				}
				sum, err := hashStimulus(ctx, s, i)
				if err != nil {
					return nil, err
				}
				out[sum] = true
			}
		}
		return out, nil
	}
	return u
}

func hashStimulus(ctx context.Context, s *benchmarks.Stimuli, i int) (string, error) {
	rc, err := s.Open(ctx, i)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", fmt.Errorf("read stimulus %d (%s): %w", i, s.Name(i), err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
