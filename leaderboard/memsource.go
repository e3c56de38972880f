package leaderboard

import (
	"context"
	"slices"
	"strconv"
	"sync"

	"github.com/cortexbench/cortexbench/scoring"
)

// MemSource is an in-memory Source and RDMSource, for tests and demos. It is
// safe for concurrent use.
type MemSource struct {
	mu         sync.RWMutex
	models     []ModelInfo
	benchmarks []BenchmarkInfo
	scores     []scoring.Score
	scoresGen  int // bumped by AddScores (ScoresVersion)
	modelRDMs  map[[2]string]rdm
	brainRDMs  map[string]rdm
}

type rdm struct {
	n     int
	upper []float64
}

// NewMemSource returns a source holding copies of the given records.
func NewMemSource(models []ModelInfo, benchmarks []BenchmarkInfo, scores []scoring.Score) *MemSource {
	return &MemSource{
		models:     slices.Clone(models),
		benchmarks: slices.Clone(benchmarks),
		scores:     slices.Clone(scores),
		modelRDMs:  make(map[[2]string]rdm),
		brainRDMs:  make(map[string]rdm),
	}
}

// AddScores appends scores.
func (m *MemSource) AddScores(s ...scoring.Score) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.scores = append(m.scores, s...)
	m.scoresGen++
}

// ScoresVersion implements ScoresVersioner: it moves with every AddScores.
func (m *MemSource) ScoresVersion(context.Context) (string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return "mem " + strconv.Itoa(m.scoresGen), nil
}

// SetModelRDM stores a model's RDM on a benchmark's stimuli.
func (m *MemSource) SetModelRDM(modelHash, benchmarkID string, n int, upper []float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.modelRDMs[[2]string{modelHash, benchmarkID}] = rdm{n, slices.Clone(upper)}
}

// SetBrainRDM stores a benchmark's brain RDM (the mean over subjects).
func (m *MemSource) SetBrainRDM(benchmarkID string, n int, upper []float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.brainRDMs[benchmarkID] = rdm{n, slices.Clone(upper)}
}

// Scores implements Source.
func (m *MemSource) Scores(context.Context) ([]scoring.Score, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Clone(m.scores), nil
}

// Models implements Source.
func (m *MemSource) Models(context.Context) ([]ModelInfo, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Clone(m.models), nil
}

// Benchmarks implements Source.
func (m *MemSource) Benchmarks(context.Context) ([]BenchmarkInfo, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return slices.Clone(m.benchmarks), nil
}

func (m *MemSource) private(benchmarkID string) bool {
	for _, b := range m.benchmarks {
		if b.ID == benchmarkID {
			return b.Private
		}
	}
	return false
}

// ModelRDM implements RDMSource. It refuses private benchmarks too: a
// model's RDM on private stimuli says something about those stimuli.
func (m *MemSource) ModelRDM(_ context.Context, modelHash, benchmarkID string) (int, []float64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.private(benchmarkID) {
		return 0, nil, ErrPrivate
	}
	r, ok := m.modelRDMs[[2]string{modelHash, benchmarkID}]
	if !ok {
		return 0, nil, Errorf(ENOTFOUND, "no RDM of model %s on benchmark %s", modelHash, benchmarkID)
	}
	return r.n, slices.Clone(r.upper), nil
}

// BrainRDM implements RDMSource; it refuses private benchmarks.
func (m *MemSource) BrainRDM(_ context.Context, benchmarkID string) (int, []float64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.private(benchmarkID) {
		return 0, nil, ErrPrivate
	}
	r, ok := m.brainRDMs[benchmarkID]
	if !ok {
		return 0, nil, Errorf(ENOTFOUND, "no brain RDM for benchmark %s", benchmarkID)
	}
	return r.n, slices.Clone(r.upper), nil
}
