package submissions

import (
	"encoding/json"
	"math"
	"slices"
	"sync"

	"github.com/cortexbench/cortexbench/storage/registry"
)

// EstimateInput is what is known of a model and the benchmarks before any
// scoring starts.
type EstimateInput struct {
	Params int64 // parameter count (sum of initializer sizes)
	Height int64 // input image size; ≤ 0 when dynamic (224 assumed)
	Width  int64
	// LayerFeatures holds the values per stimulus of each layer that will
	// be scored; an entry ≤ 0 is unknown (a dynamic shape). Empty when the
	// shapes are unknown: Layers layers of FallbackFeatures each are
	// assumed then.
	LayerFeatures []int64
	Layers        int
	// CacheLimit is the most bytes of a stimulus set's activations the
	// job stores in its activation cache (onnxrun.Model.CacheLimit); 0
	// when it has no cache.
	CacheLimit int64
	// Stimuli holds each benchmark's stimulus count.
	Stimuli []int
	// Benchmarks, when set, describes the benchmarks for the calibrated
	// estimate (ids for the corrections learned from finished jobs, and
	// subject counts); else Stimuli is used, without ids.
	Benchmarks []BenchmarkCost
}

// Estimate is the predicted cost of scoring a submission.
type Estimate struct {
	Seconds float64 // wall time of all jobs run one after another
	Bytes   int64   // peak memory of the largest job
	// Calibrated says Seconds is from the calibration measured on this
	// machine (CalibratedEstimate), not the fixed-throughput formula.
	Calibrated bool
}

// The constants of the estimate. They are deliberately conservative:
// the estimate is meant to warn a submitter whose model is far too big,
// not to schedule.
const (
	// Throughput is the sustained floating-point rate assumed, in FLOP/s
	// (pure-Go gonum GEMM measures ~4 GFLOP/s on the reference 2-core
	// machine, OpenBLAS ~70; ONNX Runtime's convolutions are in between).
	Throughput = 10e9
	// ReducedFeatures is the dimension a layer is reduced to before
	// scoring (random projection or PCA), D below.
	ReducedFeatures = 1000
	// FallbackFeatures is the per-stimulus size assumed for a layer whose
	// shape is unknown: 4·H·W (e.g. 64 channels at a quarter resolution).
	// Batch is the extraction batch size B.
	Batch = 8
	// OverheadSeconds is the fixed cost of a job (load, queue, commit).
	OverheadSeconds = 5
	// DefaultStimuli is assumed for a benchmark that does not say.
	DefaultStimuli = 1000
)

// EstimateCost predicts time and memory with this formula, for P
// parameters, an H×W input, n_b stimuli on benchmark b, and layers l with
// q_l values per stimulus, d_l = min(q_l, D):
//
//	forward FLOPs per image  F = 2·P·max(1, H·W/512)
//	                         (≈ 2 FLOPs per multiply-add; conv weights are reused
//	                         over the spatial positions, ~H·W/512 for ImageNet CNNs:
//	                         MobileNetV2 3.5 M params, 0.3 G MACs)
//	seconds = Σ_b [ 5 + ( n_b·F + Σ_l (2·n_b·q_l·d_l + 2·n_b²·d_l) ) / 10 GFLOP/s ]
//	                         (extraction + reduction to d_l + the n×n RDM per layer)
//	bytes   = max_b [ 12·P + 4·B·Σ_l q_l + 4·n_b·Σ_l d_l + 16·n_b² ]
//	                         (weights in file, parsed and in the session; one batch
//	                         of every exposed layer; the reduced features of every
//	                         layer; two n×n float64 matrices)
//
// A layer of unknown size counts as 4·H·W values.
//
// When this process has a calibration (UseCalibration), the seconds are
// CalibratedEstimate's instead: the rates measured on this machine and
// the corrections learned from finished jobs.
func EstimateCost(in EstimateInput) Estimate {
	est := formulaCost(in)
	if cals, cal := CurrentCalibration(); cal != nil {
		benches := withShapes(in.Benchmarks)
		if len(benches) == 0 {
			for _, n := range in.Stimuli {
				benches = append(benches, BenchmarkCost{Stimuli: n})
			}
		}
		var learned map[string]float64
		if cals != nil {
			learned, _ = cals.Learned() // unreadable: no corrections
		}
		est.Seconds = Sum(CalibratedEstimate(cal, in, benches, 0, learned))
		est.Calibrated = true
	}
	return est
}

var current struct {
	sync.Mutex
	cals   *Calibrations
	cal    *Calibration
	shapes map[string]BenchmarkCost
}

// UseBenchmarkShapes gives EstimateCost the stimulus, subject and
// session counts of the benchmarks by id (read from the benchmarks
// themselves: the registry's metadata rarely declares them), for the
// benchmarks whose metadata does not.
func UseBenchmarkShapes(shapes map[string]BenchmarkCost) {
	current.Lock()
	defer current.Unlock()
	current.shapes = shapes
}

// withShapes fills in what UseBenchmarkShapes knows of benches whose
// stimulus count is not declared.
func withShapes(benches []BenchmarkCost) []BenchmarkCost {
	current.Lock()
	defer current.Unlock()
	out := slices.Clone(benches)
	for i, b := range out {
		if s, ok := current.shapes[b.ID]; ok && b.Stimuli <= 0 {
			out[i] = s
		}
	}
	return out
}

// UseCalibration makes EstimateCost use cal, and the finished jobs kept
// in cals (may be nil), in this process.
func UseCalibration(cals *Calibrations, cal *Calibration) {
	current.Lock()
	defer current.Unlock()
	current.cals, current.cal = cals, cal
}

// CurrentCalibration returns what UseCalibration set (nil, nil if none).
func CurrentCalibration() (*Calibrations, *Calibration) {
	current.Lock()
	defer current.Unlock()
	return current.cals, current.cal
}

// shape returns the input's image height and width (224 when not
// given) and its layers' feature counts (one unknown layer when none).
func (in EstimateInput) shape() (h, w int64, layers []int64) {
	h, w = in.Height, in.Width
	if h <= 0 {
		h = 224
	}
	if w <= 0 {
		w = 224
	}
	layers = in.LayerFeatures
	if len(layers) == 0 {
		layers = make([]int64, max(in.Layers, 1))
	}
	return h, w, layers
}

// formulaCost is EstimateCost's formula at the fixed Throughput.
func formulaCost(in EstimateInput) Estimate {
	h, w, layers := in.shape()
	var sumQ, sumD, sumQD float64
	for _, q := range layers {
		qf := float64(q)
		if q <= 0 {
			qf = float64(4 * h * w)
		}
		d := math.Min(qf, ReducedFeatures)
		sumQ += qf
		sumD += d
		sumQD += qf * d
	}
	p := float64(in.Params)
	fwd := 2 * p * math.Max(1, float64(h*w)/512)
	var est Estimate
	for _, nb := range in.Stimuli {
		if nb <= 0 {
			nb = DefaultStimuli
		}
		n := float64(nb)
		flops := n*fwd + 2*n*sumQD + 2*n*n*sumD
		est.Seconds += OverheadSeconds + flops/Throughput
		bytes := 12*p + 4*Batch*sumQ + 4*n*sumD + 16*n*n
		est.Bytes = max(est.Bytes, int64(bytes))
	}
	return est
}

// benchmarkCostOf describes a registered benchmark for the calibrated
// estimate: its id, and the stimulus and subject counts its metadata
// declares ("stimuli", "subjects"; the defaults when it does not).
func benchmarkCostOf(b registry.Benchmark) BenchmarkCost {
	var m struct {
		Stimuli  int `json:"stimuli"`
		Subjects int `json:"subjects"`
	}
	if len(b.Metadata) > 0 {
		_ = json.Unmarshal(b.Metadata, &m) // unreadable: the defaults
	}
	return BenchmarkCost{ID: b.ID, Stimuli: m.Stimuli, Subjects: m.Subjects}
}
