package runner

import (
	"context"
	"errors"
	"fmt"
	"image"
	"sync"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/models"
)

// blankStimuli are n images nobody looks at.
type blankStimuli int

func (b blankStimuli) Len() int { return int(b) }
func (b blankStimuli) Image(context.Context, int) (image.Image, error) {
	return image.NewGray(image.Rect(0, 0, 1, 1)), nil
}

// scriptedModel's layer k gives every stimulus i the values k+i and
// −(k+i); it reports each extraction's start on started (one entry per
// call, in order) and fails the extraction numbered failAt (from 0).
type scriptedModel struct {
	fakeModel
	mu      sync.Mutex
	calls   int
	held    int // groups' features extracted or being extracted, their math not done
	maxHeld int
	failAt  int
	started []chan struct{} // closed when extraction number i starts
}

func (m *scriptedModel) Features(models.Layer) int { return 2 }

func (m *scriptedModel) Extract(ctx context.Context, stim models.Stimuli, layers []models.Layer, c models.Consumer, _ models.Progress) error {
	m.mu.Lock()
	call := m.calls
	m.calls++
	m.held++
	m.maxHeld = max(m.maxHeld, m.held)
	m.mu.Unlock()
	if call < len(m.started) {
		close(m.started[call])
	}
	if call == m.failAt {
		return errors.New("extraction failed")
	}
	for _, l := range layers {
		for i := 0; i < stim.Len(); i++ {
			v := float32(l.Index + i)
			if err := c.Consume(ctx, l, i, [][]float32{{v, -v}}); err != nil {
				return err
			}
		}
	}
	return nil
}

// TestPipelinedGroups: under Env.pipelined, each group's math runs while
// the next group (of the same call or of the next session's call) is
// extracted — the math of group g waits for extraction g+1 to start, which
// would never happen in sequence — with at most two groups' features
// held (each within half the feature budget), the results those of the sequential loop, and the first error in
// sequence order reported (issue 18: session k's ridge fits run beside
// session k+1's extraction).
func TestPipelinedGroups(t *testing.T) {
	const layers, sessions, n = 3, 2, 4
	run := func(pipelined bool, failAt int, mathErrAt int) ([][]float32, int, error) {
		m := &scriptedModel{fakeModel: *newFakeModel(layers, 2, 0), failAt: failAt}
		groups := layers * sessions
		for i := 0; i < groups; i++ {
			m.started = append(m.started, make(chan struct{}))
		}
		cfg := DefaultConfig()
		// Two layers per group in sequence; one when pipelined, which
		// holds two groups at once within the budget.
		cfg.FeatureBudget = 2 * n * 2 * 4
		e := &Env{cfg: cfg, progress: func(Event) {}, timings: &timings{}}
		sums := make([][]float32, sessions)
		g := 0 // groups whose math started; their math runs one at a time
		body := func() error {
			for s := 0; s < sessions; s++ {
				sums[s] = make([]float32, layers)
				err := e.forEachGroup(t.Context(), m, "b", blankStimuli(n), m.Layers()[:layers], func(group []models.Layer, f *features) error {
					mine := g
					g++
					if want := 2 - boolInt(pipelined); len(group) > want {
						return fmt.Errorf("group of %d layers, want at most %d within the budget", len(group), want)
					}
					defer func() { m.mu.Lock(); m.held--; m.mu.Unlock() }()
					if pipelined && mine+1 < groups {
						select {
						case <-m.started[mine+1]:
						case <-time.After(10 * time.Second):
							return fmt.Errorf("group %d: the next extraction did not start beside this math", mine)
						}
					}
					if mine == mathErrAt {
						return fmt.Errorf("math of group %d failed", mine)
					}
					for _, l := range group {
						for _, v := range f.data[l.ID].Data {
							sums[s][l.Index] += v * v
						}
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
			return nil
		}
		var err error
		if pipelined {
			err = e.pipelined(body)
		} else {
			err = body()
		}
		return sums, m.maxHeld, err
	}
	want, _, err := run(false, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, maxLive, err := run(true, -1, -1)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pipelined results %v, in sequence %v", got, want)
	}
	if maxLive > 2 {
		t.Errorf("%d groups' features held at once, want at most 2", maxLive)
	}
	// Group 1's math fails and extraction 2 fails beside it: in sequence
	// the math's error comes first.
	_, _, err = run(true, 2, 1)
	if err == nil || err.Error() != "math of group 1 failed" {
		t.Errorf("pipelined error %v, want group 1's math error", err)
	}
	// The last group's math fails: pipelined returns its error, though
	// the body returned nil.
	_, _, err = run(true, -1, layers*sessions-1)
	if err == nil || err.Error() != fmt.Sprintf("math of group %d failed", layers*sessions-1) {
		t.Errorf("pipelined error %v, want the last group's math error", err)
	}
	// An extraction failing with no math error is reported as such.
	_, _, err = run(true, 4, -1)
	if err == nil || !errors.Is(err, ErrBadModel) {
		t.Errorf("pipelined error %v, want the extraction's (bad model)", err)
	}
}
