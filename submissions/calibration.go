package submissions

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Machine names what the throughput of a calibration depends on: a
// calibration measured under another key is measured again.
type Machine struct {
	CPU   string `json:"cpu"`   // model name from /proc/cpuinfo ("" when unknown)
	Cores int    `json:"cores"` // runtime.NumCPU
	ORT   string `json:"ort"`   // ONNX Runtime library version
	BLAS  string `json:"blas"`  // linalg.Backend()
	// BLASKernels is linalg.Kernels(): OpenBLAS's kernels differ in speed
	// (AVX2 or AVX-512) on one CPU with $OPENBLAS_CORETYPE.
	BLASKernels string `json:"blas_kernels,omitempty"`
}

// Calibration is the throughput measured on one machine, from which
// EstimateCost predicts seconds (issue 17: a fixed 10 GFLOP/s assumed
// made a 4.5-minute job look like 103 s).
type Calibration struct {
	Machine Machine `json:"machine"`
	// ForwardFLOPS is the forward-pass rate in the FLOPs of the estimate's
	// formula (2·P·max(1, H·W/512) per image): the built-in model's
	// formula FLOPs per image over its measured seconds per image.
	ForwardFLOPS float64 `json:"forward_flops"`
	// GemmFLOPS is the rate of a float64 matrix product (the RDMs and
	// reductions of every layer).
	GemmFLOPS float64 `json:"gemm_flops"`
	// RankSeconds is the time per element of a rank correlation of two
	// vectors (the bootstrap and layer selection recompute thousands).
	RankSeconds float64 `json:"rank_seconds_per_element"`
	// DrawnRankSeconds is the time per element, on one core, of what the
	// bootstrap repeats: one resampled RDM, held as its distinct pairs and
	// their counts, ranked by counting over its ordered entries and
	// compared with a prepared one (rsa.DrawnPrepared).
	DrawnRankSeconds float64 `json:"drawn_rank_seconds_per_element"`
	// ModelSeconds is the fixed time a job takes to load a model and
	// start its session (the built-in model's load time).
	ModelSeconds float64   `json:"model_seconds"`
	MeasuredAt   time.Time `json:"measured_at"`
	// Took is how long the calibration took.
	Took float64 `json:"took_seconds"`
}

// CalibrationMaxAge is how long a calibration is trusted.
const CalibrationMaxAge = 30 * 24 * time.Hour

// Stale says why c is to be measured again on machine m at now ("" when
// it is not).
func (c *Calibration) Stale(m Machine, now time.Time) string {
	switch {
	case c == nil:
		return "none measured"
	case c.Machine != m:
		return fmt.Sprintf("measured on another machine (%+v)", c.Machine)
	case now.Sub(c.MeasuredAt) > CalibrationMaxAge:
		return fmt.Sprintf("measured %s, more than %v ago", c.MeasuredAt.Format(time.DateOnly), CalibrationMaxAge)
	case !(c.ForwardFLOPS > 0 && c.GemmFLOPS > 0 && c.RankSeconds > 0 && c.DrawnRankSeconds > 0):
		return "incomplete"
	}
	return ""
}

// JobRecord is a finished scoring job: how long a benchmark took, and
// what the estimate's cost model predicted for each part, so later
// estimates on that benchmark can be corrected by what was seen.
type JobRecord struct {
	Benchmark string    `json:"benchmark"`
	Model     string    `json:"model"` // hash
	Seconds   float64   `json:"seconds"`
	Predicted float64   `json:"predicted_seconds"`
	At        time.Time `json:"at"`
}

// estimateState is what the calibration file holds.
type estimateState struct {
	Calibrations []Calibration `json:"calibrations"`
	Jobs         []JobRecord   `json:"jobs"`
}

// CalibrationFile is the file name in a store or data folder.
const CalibrationFile = "calibration.json"

// maxJobs bounds the job records kept (the newest are kept).
const maxJobs = 2000

// Calibrations keeps the calibration of each machine and the finished
// jobs in one JSON file. Safe for concurrent use in a process.
type Calibrations struct {
	path string
	mu   sync.Mutex
}

// OpenCalibrations returns the calibrations kept in dir.
func OpenCalibrations(dir string) *Calibrations {
	return &Calibrations{path: filepath.Join(dir, CalibrationFile)}
}

// Path is the file's path.
func (c *Calibrations) Path() string { return c.path }

func (c *Calibrations) read() (estimateState, error) {
	var st estimateState
	b, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return estimateState{}, fmt.Errorf("%s: %w (delete it: it is measured again)", c.path, err)
	}
	return st, nil
}

func (c *Calibrations) write(st estimateState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
		return err
	}
	// A file of its own per writer, renamed over: a reader (or another
	// process) never sees a torn file. Concurrent writers may lose each
	// other's last record, which only makes an estimate learn later.
	f, err := os.CreateTemp(filepath.Dir(c.path), CalibrationFile+".*.tmp")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), c.path)
}

// Get returns the calibration of machine m (nil when none).
func (c *Calibrations) Get(m Machine) (*Calibration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := c.read()
	if err != nil {
		return nil, err
	}
	for i := range st.Calibrations {
		if st.Calibrations[i].Machine == m {
			return &st.Calibrations[i], nil
		}
	}
	return nil, nil
}

// Put keeps cal, replacing its machine's.
func (c *Calibrations) Put(cal Calibration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := c.read()
	if err != nil {
		st = estimateState{} // unreadable: start again
	}
	st.Calibrations = slices.DeleteFunc(st.Calibrations, func(x Calibration) bool { return x.Machine == cal.Machine })
	st.Calibrations = append(st.Calibrations, cal)
	return c.write(st)
}

// Record keeps finished jobs.
func (c *Calibrations) Record(jobs ...JobRecord) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := c.read()
	if err != nil {
		return err
	}
	st.Jobs = append(st.Jobs, jobs...)
	if len(st.Jobs) > maxJobs {
		st.Jobs = st.Jobs[len(st.Jobs)-maxJobs:]
	}
	return c.write(st)
}

// Learned returns, per benchmark, the median ratio of the seconds jobs
// took to the seconds predicted for them: the correction later estimates
// on that benchmark are multiplied by. The cost model scales with the
// model (forward FLOPs, layer sizes), so the ratio carries over to
// other models.
func (c *Calibrations) Learned() (map[string]float64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, err := c.read()
	if err != nil {
		return nil, err
	}
	ratios := map[string][]float64{}
	for _, j := range st.Jobs {
		if j.Seconds > 0 && j.Predicted > 0 {
			ratios[j.Benchmark] = append(ratios[j.Benchmark], j.Seconds/j.Predicted)
		}
	}
	out := map[string]float64{}
	for b, r := range ratios {
		slices.Sort(r)
		m := r[len(r)/2]
		if len(r)%2 == 0 {
			m = (r[len(r)/2-1] + r[len(r)/2]) / 2
		}
		out[b] = m
	}
	return out, nil
}

// BenchmarkCost is what the estimate knows of one benchmark.
type BenchmarkCost struct {
	ID       string
	Stimuli  int // n (DefaultStimuli when ≤ 0)
	Subjects int // RDMs or recorded subjects the model is compared with (DefaultSubjects when ≤ 0)
	// Stimuli names the stimulus set by content ("" unknown): in one run,
	// a benchmark on a set an earlier one extracted reuses its
	// activations and layer RDMs.
	StimulusKey string
	// Sessions holds, for an encoding benchmark (recorded responses fitted
	// by ridge regression, one session at a time), each session's
	// stimulus count; empty for an RSA benchmark.
	Sessions []int
}

// Defaults of the calibrated cost model.
const (
	// DefaultSubjects is assumed for a benchmark that does not say.
	DefaultSubjects = 10
	// SelectionSplits is the number of selection splits (the runner's
	// default; each resample recomputes every split's score).
	SelectionSplits = 10
	// DefaultBootstrap is the runner's default number of resamples.
	DefaultBootstrap = 1000
	// MaxLayersSelected bounds the candidate layers whose RDMs are
	// compared with every subject's on every split.
	MaxLayersSelected = 200
	// RidgeLayers and RidgeSplits are the encoding benchmarks' defaults:
	// the candidate layers (spaced:20) and the selection splits fitted.
	RidgeLayers = 20
	RidgeSplits = 5
)

// Part is one benchmark's predicted seconds, by part.
type Part struct {
	Benchmark string  `json:"benchmark"`
	Forward   float64 `json:"forward_seconds"`
	Layers    float64 `json:"layers_seconds"`
	Bootstrap float64 `json:"bootstrap_seconds"`
	Fixed     float64 `json:"fixed_seconds"`
	// Shared says the forward passes and layer math are an earlier
	// benchmark's of the same run (the same stimuli), not counted again.
	Shared bool `json:"shared_stimuli,omitempty"`
	// Learned is the correction from finished jobs on this benchmark
	// (1 when none).
	Learned float64 `json:"learned_factor"`
	Seconds float64 `json:"seconds"`
}

// CalibratedEstimate predicts each benchmark's seconds from the
// calibration cal, the model in (its parameters, input size and layer
// sizes as for EstimateCost) and the benchmarks, corrected per benchmark
// by learned (Learned; nil for none). bootstrap ≤ 0 means the default.
// benches are taken as scored in one run, in order: a benchmark on the
// stimuli of an earlier one has no forward_b and layers_b.
//
//	forward_b   = n_b · F / ForwardFLOPS        (F of EstimateCost)
//	layers_b    = Σ_l (2·n_b·q_l·d_l + 2·n_b²·d_l) / GemmFLOPS
//	selection_b = K · S_b · L · (n_b/2)²/2 · RankSeconds   (layers compared on K splits' test halves)
//	bootstrap_b = B · K · (S_b+1) · (n_b/2)²/2 · DrawnRankSeconds / cores   (the chosen layer's resample ranked, then compared with each subject's; on every core)
//	fixed_b     = ModelSeconds + cache_b   (SharedBenchmarkSeconds for a benchmark on an earlier one's stimuli)
//	cache_b     = 4·n_b·Σ_l q_l / ActivationStoreRate, when that is at most the input's CacheLimit bytes
//	              (the first job on a stimulus set stores its activations)
//	seconds_b   = learned_b · (forward_b + layers_b + selection_b + bootstrap_b + fixed_b)
//
// An encoding benchmark (Sessions) is fitted per session s of n_s stimuli
// on R = min(L, 20) layers of mean size q̄, d̄ = mean d_l, over 5 splits:
//
//	forward_b = Σ_s n_s · F / ForwardFLOPS
//	layers_b  = Σ_s R · (2·n_s·q̄·d̄ + 5·4·n_s·d̄²) / GemmFLOPS   (reduction once, the ridge fit's SVD per split)
func CalibratedEstimate(cal *Calibration, in EstimateInput, benches []BenchmarkCost, bootstrap int, learned map[string]float64) []Part {
	if bootstrap <= 0 {
		bootstrap = DefaultBootstrap
	}
	fwd, sumQD, sumD, sumQ := modelFlops(in)
	nl := float64(min(max(len(in.LayerFeatures), in.Layers, 1), MaxLayersSelected))
	parts := make([]Part, 0, len(benches))
	seen := map[string]bool{}
	for _, b := range benches {
		n := float64(b.Stimuli)
		if n <= 0 {
			n = DefaultStimuli
		}
		s := float64(b.Subjects)
		if s <= 0 {
			s = DefaultSubjects
		}
		pairs := (n / 2) * (n / 2) / 2
		p := Part{Benchmark: b.ID, Learned: 1, Fixed: cal.ModelSeconds}
		if len(b.Sessions) > 0 {
			r := math.Min(float64(RidgeLayers), float64(max(len(in.LayerFeatures), in.Layers, 1)))
			all := float64(max(len(in.LayerFeatures), in.Layers, 1))
			qd, d := sumQD/all, sumD/all
			for _, ns := range b.Sessions {
				n := float64(ns)
				p.Forward += n * fwd / cal.ForwardFLOPS
				p.Layers += r * (2*n*qd + RidgeSplits*4*n*d*d) / cal.GemmFLOPS
			}
			if f, ok := learned[b.ID]; ok && f > 0 && !math.IsInf(f, 0) {
				p.Learned = f
			}
			p.Seconds = p.Learned * (p.Forward + p.Layers + p.Fixed)
			parts = append(parts, p)
			continue
		}
		if b.StimulusKey != "" && seen[b.StimulusKey] {
			// No model load, session or forward pass of its own: the
			// earlier benchmark's layer RDMs are reused.
			p.Shared, p.Fixed = true, SharedBenchmarkSeconds
		} else {
			p.Forward = n * fwd / cal.ForwardFLOPS
			p.Layers = (2*n*sumQD + 2*n*n*sumD) / cal.GemmFLOPS
			if b := 4 * n * sumQ; b <= float64(in.CacheLimit) {
				p.Fixed += b / ActivationStoreRate
			}
		}
		seen[b.StimulusKey] = b.StimulusKey != ""
		p.Bootstrap = SelectionSplits*s*nl*pairs*cal.RankSeconds +
			float64(bootstrap)*SelectionSplits*(s+1)*pairs*cal.DrawnRankSeconds/float64(max(cal.Machine.Cores, 1))
		if f, ok := learned[b.ID]; ok && f > 0 && !math.IsInf(f, 0) {
			p.Learned = f
		}
		p.Seconds = p.Learned * (p.Forward + p.Layers + p.Bootstrap + p.Fixed)
		parts = append(parts, p)
	}
	return parts
}

// SharedBenchmarkSeconds is what a benchmark on an earlier benchmark's
// stimuli takes beyond its selection and bootstrap terms (opening it, the
// selection's bookkeeping, storing the score): measured 2026-12-05 on the
// 2-core development machine, kriegeskorte2008.mIT scored after
// kriegeskorte2008.hIT with MobileNetV1 0.5/128 took 0.121–0.130 s, of
// which those terms predict 0.058–0.075 s. Before the bootstrap counted
// distinct pairs (stop 33) such a benchmark was charged ModelSeconds, a
// model load it does not do, which the bootstrap's cost then hid. Not
// calibrated per machine; finished jobs correct it (Learned).
const SharedBenchmarkSeconds = 0.06

// ActivationStoreRate is the bytes per second at which a job stores
// activations in the embedded object store (four layers at a time, each a
// signed request, checksums and a durable write): measured 2026-12-04 on
// the 2-core development machine, MobileNetV1 0.5/128's 57 layers on 92
// images (about 67 MB) in 0.6 s. A disk-only write there runs at ~1 GB/s,
// so the requests and hashing, not the disk, set this rate; it is not
// calibrated per machine, and finished jobs correct it (Learned).
const ActivationStoreRate = 110e6

// modelFlops returns the formula's forward FLOPs per image, Σ_l q_l·d_l
// and Σ_l d_l of in (see EstimateCost), and Σ_l q_l, the activation
// values per image (an unknown q_l counted as 4·H·W).
func modelFlops(in EstimateInput) (fwd, sumQD, sumD, sumQ float64) {
	h, w, layers := in.shape()
	for _, q := range layers {
		qf := float64(q)
		if q <= 0 {
			qf = float64(4 * h * w)
		}
		d := math.Min(qf, ReducedFeatures)
		sumD += d
		sumQD += qf * d
		sumQ += qf
	}
	return ForwardFlops(in.Params, h, w), sumQD, sumD, sumQ
}

// ForwardFlops is the estimate's forward FLOPs per image of a model of
// params parameters on an h×w input: 2·P·max(1, H·W/512).
func ForwardFlops(params, h, w int64) float64 {
	return 2 * float64(params) * math.Max(1, float64(h*w)/512)
}

// Sum adds up parts' seconds.
func Sum(parts []Part) float64 {
	var s float64
	for _, p := range parts {
		s += p.Seconds
	}
	return s
}
