package ort

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/preprocess"
)

// Extractor computes chosen layers of one model for sets of stimuli. Its
// input and output tensors are allocated once, for one mini-batch, and
// reused by every batch and every Run. Not safe for concurrent use.
type Extractor struct {
	layers  []models.Layer // as handed out
	exposed []models.Layer // graph outputs: layers, or with Units their roots
	views   []view         // per layer: how its rows come from exposed
	spec    models.Spec
	batch   int
	session *onnxruntime.DynamicAdvancedSession
	ins     []inBuf // one, or two with prefetching
	sets    []outSet
	loader  preprocess.Loader
	// sharedArena: the session allocates from the environment's arena;
	// release lets it go (acquireArena), once the session is destroyed.
	sharedArena bool
	release     func()
}

// inBuf is one input tensor: the batch the model is computing, or the
// next one being prepared (prefetching, issue 18).
type inBuf struct {
	val onnxruntime.Value
	f32 []float32
	u8  []uint8
}

// outSet is one set of output tensors; with Options.Overlap there are two,
// so ONNX Runtime fills one while the consumer reads the other.
type outSet struct {
	outputs []onnxruntime.Value
	bufs    []layerBuf    // per exposed tensor
	vrows   [][][]float32 // per layer with a view: its gathered rows
}

// view is how a handed-out layer's rows come from an exposed tensor: the
// tensor's rows themselves (direct), or the values at units (all values
// when units is nil) passed through f, an elementwise function (nil for
// none) when the layer is derived from the tensor (Options.Units). When
// from ≥ 0 the values come instead from the already gathered rows of layer
// from (the derived layer's root, whose units it shares).
type view struct {
	src   int
	from  int
	units []int
	f     func(p int, x float32) float32
}

// direct reports a view that is the exposed tensor's rows themselves.
func (v view) direct() bool { return v.f == nil && v.units == nil }

type layerBuf struct {
	n    int       // values per stimulus
	f32  []float32 // the tensor's own data when float, else a conversion buffer
	conv func()    // copies a non-float tensor into f32; nil for float
	rows [][]float32
}

// Options tune extraction.
type Options struct {
	// PoolTo, when positive, average-pools inside the graph every rank-4
	// layer with more than PoolTo values per stimulus down to at most
	// PoolTo (onnxmodel.PooledOutputs); consumers then receive the pooled
	// rows. Zero hands out layers whole.
	//
	// Measured on MobileNetV2 (2 cores): the pooling costs ONNX Runtime
	// about as much as the forward pass itself, more than handing the
	// layers out whole and subsampling them in Go
	// (activations.Subsampled), which is the cheaper all-layer reduction.
	PoolTo int64
	// Units, when set (and PoolTo is zero), chooses per layer the flat
	// per-stimulus positions of the units handed out (nil: all of them),
	// e.g. activations.SubsampleUnits. The extractor then gathers the units
	// itself and exposes fewer graph outputs: a layer computed value by
	// value from another chosen layer (ReLU, clipping and the like; see
	// onnxmodel.ElementwiseOutputs), directly or through a chain of such
	// layers, is not exposed; it keeps the units chosen for the root of
	// its chain, computed from the root's values at those positions (the
	// same units seen through each nonlinearity, and no second pass over
	// the root's memory). In MobileNetV2 those layers hold 73% of the 127
	// MiB per image that ONNX Runtime otherwise writes to output tensors.
	// UnitsKey names the choice in cache keys.
	Units    func(l models.Layer) []int
	UnitsKey string
	// Overlap runs the consumer of one batch while ONNX Runtime computes
	// the next, in a second set of output tensors (twice the output
	// memory). It helps when ONNX Runtime leaves part of the cores idle.
	Overlap bool
	// Serial prepares (decodes, resizes, normalises) each batch's input
	// just before computing it, as before issue 18. By default the next
	// batch is prepared into a second input tensor while ONNX Runtime
	// computes the current one, so its threads do not wait for decoding;
	// the tensors are the same. Serial is the reference in benchmarks.
	Serial bool
	// MemPattern keeps ONNX Runtime's memory pattern when inner layers are
	// exposed, as before issue 18's stop 26; see NewExtractor. It is the
	// reference in BenchmarkAllLayersMemPattern; the tensors are the same.
	MemPattern bool
	// AsGiven runs the model's graph as its file gives it, cut to the
	// layers asked for. By default chains of clamping nodes (ReLU, Clip,
	// Min and Max against constants) that end in a convolution are folded
	// first, and moved in front of a zero Pad before it, so that ONNX
	// Runtime fuses them and the Pad into the convolutions
	// (onnxmodel.SetOutputs): the same values (TestFoldedClampsSameValues),
	// and MobileNetV2's forward pass in 0.6–0.7× the time
	// (BenchmarkFoldedClamps). 'cortexbench bench' times its reference
	// passes as given: what a user would measure with ONNX Runtime.
	AsGiven bool
}

// Reduction describes the in-graph reduction, for cache keys.
func (o Options) Reduction() string {
	if o.PoolTo > 0 {
		return fmt.Sprintf("avgpool<=%d", o.PoolTo)
	}
	if o.Units != nil {
		return "units:" + o.UnitsKey
	}
	return "none"
}

// NewExtractor prepares extraction of layers (from Inspect; only
// PerStimulus ones may be asked for) from a validated model whose input is
// prepared by spec. Layers whose shape past the batch axis is not fully
// known (dynamic spatial input) are sized by one probe run.
func (r *Runtime) NewExtractor(c *onnxmodel.Checked, spec models.Spec, layers []models.Layer, o Options) (*Extractor, error) {
	if len(layers) == 0 {
		return nil, errors.New("new extractor: no layers chosen")
	}
	if err := onnxmodel.CheckSpec(c, spec); err != nil {
		return nil, fmt.Errorf("new extractor: %w", err)
	}
	names := make([]string, len(layers))
	for i, l := range layers {
		if !l.PerStimulus {
			return nil, fmt.Errorf("new extractor: layer %s (%s) is not a per-stimulus tensor", l.ID, l.Tensor)
		}
		names[i] = l.Tensor
	}
	exposed, views, err := plan(c, layers, o)
	if err != nil {
		return nil, fmt.Errorf("new extractor: %w", err)
	}
	if views != nil {
		names = names[:0]
		for _, l := range exposed {
			names = append(names, l.Tensor)
		}
	}
	var data []byte
	shapes := make([][]int64, len(exposed))
	if o.PoolTo > 0 {
		var plans []onnxmodel.PoolPlan
		data, plans, err = onnxmodel.PooledOutputs(c.Model, layers, o.PoolTo, !o.AsGiven)
		for i, p := range plans {
			names[i], shapes[i] = p.Output, p.Shape
		}
	} else {
		data, err = onnxmodel.SetOutputs(c.Model, names, !o.AsGiven)
		for i, l := range exposed {
			shapes[i] = l.Shape
		}
	}
	if err != nil {
		return nil, fmt.Errorf("new extractor: %w", err)
	}
	opts, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("new extractor: session options: %w", err)
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(r.cfg.Threads); err != nil {
		return nil, fmt.Errorf("new extractor: set threads: %w", err)
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, fmt.Errorf("new extractor: set threads: %w", err)
	}
	// ONNX Runtime's memory pattern plans, after the first Run, one block
	// for all the intermediate tensors of a Run. With a model's inner
	// layers exposed as graph outputs (every candidate layer of an RSA
	// benchmark: 240 for MobileNetV2) that block is large and is filled
	// afresh on every Run: kriegeskorte2008.hIT's extraction of
	// MobileNetV2's 240 layers (92 images, batches of 4) took 6.0 s and
	// 1.62 GiB peak with it, 4.8 s and 1.07 GiB without (2-core machine,
	// 2026-12-04), with the same tensors (BenchmarkAllLayersMemPattern
	// measures both). The bare forward passes (model outputs only) keep
	// ONNX Runtime's default, so they stay the reference a user would
	// measure.
	if !o.MemPattern && exposesInner(exposed) {
		if err := opts.SetMemPattern(false); err != nil {
			return nil, fmt.Errorf("new extractor: memory pattern: %w", err)
		}
	}
	if !r.cfg.Spin {
		if err := opts.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
			return nil, fmt.Errorf("new extractor: disable spinning: %w", err)
		}
	}
	shared, release := acquireArena()
	if shared {
		if err := opts.AddSessionConfigEntry("session.use_env_allocators", "1"); err != nil {
			release()
			return nil, fmt.Errorf("new extractor: shared arena: %w", err)
		}
	}
	sess, err := onnxruntime.NewDynamicAdvancedSessionWithONNXData(data, []string{c.Input.Name}, names, opts)
	if err != nil {
		release()
		return nil, fmt.Errorf("new extractor: create session: %w", err)
	}
	e := &Extractor{layers: slices.Clone(layers), exposed: exposed, views: views, spec: spec, session: sess, sharedArena: shared, release: release}
	e.loader.Cache = r.PixelCache()
	if err := e.setup(r.cfg, c, shapes, o.Overlap, o.Serial); err != nil {
		e.Close()
		return nil, fmt.Errorf("new extractor: %w", err)
	}
	return e, nil
}

// exposesInner reports whether any exposed layer is inside the graph
// rather than one of the model's outputs.
func exposesInner(exposed []models.Layer) bool {
	return slices.ContainsFunc(exposed, func(l models.Layer) bool { return !l.IsOutput })
}

func (e *Extractor) setup(cfg Config, c *onnxmodel.Checked, shapes [][]int64, overlap, serial bool) error {
	per := make([][]int64, len(e.exposed)) // shape past the batch axis
	known := true
	for i := range e.exposed {
		per[i] = slices.Clone(shapes[i][1:])
		for _, d := range per[i] {
			known = known && d >= 0
		}
	}
	fixed := c.Input.Shape[0] > 0
	if !known {
		in, err := e.allocInput(1)
		if err != nil {
			return err
		}
		shapes, err := e.probe(in.val)
		in.val.Destroy()
		if err != nil {
			return err
		}
		for i := range per {
			per[i] = shapes[i][1:]
		}
	}
	var outPer, rawPer int64
	for i, l := range e.exposed {
		n := int64(1)
		for _, d := range per[i] {
			n *= d
		}
		size := int64(4)
		if l.Type != "float" {
			size += elemSize(l.Type) // the tensor plus its float32 copy
		}
		outPer += n * size
		if f := l.Features(); f > 0 {
			rawPer += f * elemSize(l.Type)
		}
	}
	for _, v := range e.views {
		if !v.direct() {
			w := len(v.units)
			if v.units == nil {
				w = int(max(0, e.exposed[v.src].Features()))
			}
			outPer += 4 * int64(w)
		}
	}
	e.batch = cfg.BatchSize
	if per := max(outPer, rawPer); per > 0 {
		e.batch = int(max(1, min(int64(cfg.BatchSize), cfg.MaxBatchBytes/per)))
	}
	if fixed {
		e.batch = int(c.Input.Shape[0])
	}
	nin := 2
	if serial {
		nin = 1
	}
	for range nin {
		in, err := e.allocInput(e.batch)
		if err != nil {
			return err
		}
		e.ins = append(e.ins, in)
	}
	e.sets = make([]outSet, 1)
	if overlap {
		e.sets = make([]outSet, 2)
	}
	for si := range e.sets {
		set := &e.sets[si]
		set.outputs = make([]onnxruntime.Value, len(e.exposed))
		set.bufs = make([]layerBuf, len(e.exposed))
		for i, l := range e.exposed {
			shape := onnxruntime.NewShape(append([]int64{int64(e.batch)}, per[i]...)...)
			v, buf, err := newOutput(l.Type, shape)
			if err != nil {
				return fmt.Errorf("allocate output %s %v: %w", l.ID, shape, err)
			}
			set.outputs[i] = v
			buf.n = int(shape.FlattenedSize()) / e.batch
			buf.rows = make([][]float32, e.batch)
			for j := range buf.rows {
				buf.rows[j] = buf.f32[j*buf.n : (j+1)*buf.n]
			}
			set.bufs[i] = buf
		}
		set.vrows = make([][][]float32, len(e.views))
		for i, v := range e.views {
			if v.direct() {
				continue
			}
			w := len(v.units)
			if v.units == nil {
				w = set.bufs[v.src].n
			}
			data := make([]float32, e.batch*w)
			set.vrows[i] = make([][]float32, e.batch)
			for j := range e.batch {
				set.vrows[i][j] = data[j*w : (j+1)*w : (j+1)*w]
			}
		}
	}
	return nil
}

func (e *Extractor) allocInput(batch int) (inBuf, error) {
	n := int64(e.spec.InputSize)
	shape := onnxruntime.NewShape(int64(batch), int64(e.spec.Channels), n, n)
	if e.spec.Layout == models.NHWC {
		shape = onnxruntime.NewShape(int64(batch), n, n, int64(e.spec.Channels))
	}
	if e.spec.Pixel == models.PixelUint8 {
		t, err := onnxruntime.NewEmptyTensor[uint8](shape)
		if err != nil {
			return inBuf{}, fmt.Errorf("allocate input: %w", err)
		}
		return inBuf{val: t, u8: t.GetData()}, nil
	}
	t, err := onnxruntime.NewEmptyTensor[float32](shape)
	if err != nil {
		return inBuf{}, fmt.Errorf("allocate input: %w", err)
	}
	return inBuf{val: t, f32: t.GetData()}, nil
}

// probe runs one zero image with outputs allocated by ONNX Runtime, to learn
// shapes it cannot infer statically.
func (e *Extractor) probe(input onnxruntime.Value) ([][]int64, error) {
	outs := make([]onnxruntime.Value, len(e.exposed))
	if err := e.session.Run([]onnxruntime.Value{input}, outs); err != nil {
		return nil, fmt.Errorf("probe run for layer shapes: %w", err)
	}
	shapes := make([][]int64, len(outs))
	for i, o := range outs {
		shapes[i] = slices.Clone(o.GetShape())
		o.Destroy()
	}
	return shapes, nil
}

func elemSize(typ string) int64 {
	switch typ {
	case "uint8", "int8", "bool":
		return 1
	case "int16", "uint16":
		return 2
	case "int64", "double":
		return 8
	}
	return 4
}

func newOutput(typ string, shape onnxruntime.Shape) (onnxruntime.Value, layerBuf, error) {
	switch typ {
	case "float":
		t, err := onnxruntime.NewEmptyTensor[float32](shape)
		if err != nil {
			return nil, layerBuf{}, err
		}
		return t, layerBuf{f32: t.GetData()}, nil
	case "uint8":
		return convOutput[uint8](shape)
	case "int8":
		return convOutput[int8](shape)
	case "int16":
		return convOutput[int16](shape)
	case "uint16":
		return convOutput[uint16](shape)
	case "int32":
		return convOutput[int32](shape)
	case "int64":
		return convOutput[int64](shape)
	case "double":
		return convOutput[float64](shape)
	case "bool":
		t, err := onnxruntime.NewEmptyTensor[bool](shape)
		if err != nil {
			return nil, layerBuf{}, err
		}
		src, dst := t.GetData(), make([]float32, shape.FlattenedSize())
		return t, layerBuf{f32: dst, conv: func() {
			for i, v := range src {
				dst[i] = 0
				if v {
					dst[i] = 1
				}
			}
		}}, nil
	}
	return nil, layerBuf{}, fmt.Errorf("element type %s cannot be extracted", typ)
}

func convOutput[T int8 | uint8 | int16 | uint16 | int32 | int64 | float64](shape onnxruntime.Shape) (onnxruntime.Value, layerBuf, error) {
	t, err := onnxruntime.NewEmptyTensor[T](shape)
	if err != nil {
		return nil, layerBuf{}, err
	}
	src, dst := t.GetData(), make([]float32, shape.FlattenedSize())
	return t, layerBuf{f32: dst, conv: func() {
		for i, v := range src {
			dst[i] = float32(v)
		}
	}}, nil
}

// BatchSize is the mini-batch size used.
func (e *Extractor) BatchSize() int { return e.batch }

// Widths are the values per stimulus of each layer, in Layers order, as
// consumers receive them (after in-graph pooling, if any).
func (e *Extractor) Widths() []int {
	out := make([]int, len(e.layers))
	for i := range out {
		if e.views == nil {
			out[i] = e.sets[0].bufs[i].n
		} else if v := e.views[i]; v.direct() || v.units == nil {
			out[i] = e.sets[0].bufs[v.src].n
		} else {
			out[i] = len(v.units)
		}
	}
	return out
}

// Units are, per layer in Layers order, the flat per-stimulus positions of
// the values consumers receive (nil: every value, in order). Without
// Options.Units every entry is nil.
func (e *Extractor) Units() [][]int {
	out := make([][]int, len(e.layers))
	for i := range out {
		if e.views != nil {
			out[i] = e.views[i].units
		}
	}
	return out
}

// Exposed is how many tensors the graph hands to the extractor: the
// layers, or with Options.Units the roots of their elementwise chains.
func (e *Extractor) Exposed() int { return len(e.exposed) }

// Layers are the extracted layers, in output order.
func (e *Extractor) Layers() []models.Layer { return e.layers }

// Run extracts the layers for every stimulus, batch by batch, handing each
// layer's batch to c as soon as it is computed; c's Finish (if any) is
// called at the end. It stops when ctx is cancelled (also in the middle of
// a batch) and reports progress after each batch when progress is not nil.
func (e *Extractor) Run(ctx context.Context, stim models.Stimuli, c models.Consumer, progress models.Progress) error {
	total := stim.Len()
	per := preprocess.Values(e.spec)
	// Run options of this call carry the terminate flag that a cancelled
	// ctx sets to stop a batch in flight.
	opts, err := onnxruntime.NewRunOptions()
	if err != nil {
		return fmt.Errorf("extract: run options: %w", err)
	}
	terminated := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		opts.Terminate()
		close(terminated)
	})
	defer func() {
		if !stop() {
			<-terminated
		}
		opts.Destroy()
	}()
	type batch struct{ set, first, k int }
	consume := func(b batch) error {
		set := &e.sets[b.set]
		for i := range set.bufs {
			if buf := &set.bufs[i]; buf.conv != nil {
				buf.conv()
			}
		}
		if e.views != nil {
			e.fillViews(set, b.k)
		}
		for i, l := range e.layers {
			var rows [][]float32
			switch {
			case e.views == nil:
				rows = set.bufs[i].rows
			case e.views[i].direct():
				rows = set.bufs[e.views[i].src].rows
			default:
				rows = set.vrows[i]
			}
			if err := c.Consume(ctx, l, b.first, rows[:b.k]); err != nil {
				return fmt.Errorf("extract: consume %s at stimulus %d: %w", l.ID, b.first, err)
			}
		}
		if progress != nil {
			progress(b.first+b.k, total)
		}
		return nil
	}
	// With two output sets a worker consumes one while the next batch
	// runs; a consumer error cancels inner, which stops the loop.
	inner, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	free := make(chan int, len(e.sets))
	for i := range e.sets {
		free <- i
	}
	work := make(chan batch, len(e.sets))
	var wg sync.WaitGroup
	var consumeErr error
	if len(e.sets) > 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if consumeErr == nil {
					if err := consume(b); err != nil {
						consumeErr = err
						cancel(err)
					}
				}
				free <- b.set
			}
		}()
	}
	wait := func() error {
		if len(e.sets) > 1 {
			close(work)
			wg.Wait()
		}
		return consumeErr
	}
	// With two input tensors a producer prepares the next batch into one
	// while ONNX Runtime computes from the other; it stops when inner
	// ends, and Run returns only once it has.
	next, stopInput := e.inputs(inner, stim, total, per)
	defer stopInput()
	for {
		var set int
		select {
		case set = <-free:
		case <-inner.Done():
		}
		if inner.Err() != nil {
			if err := wait(); err != nil {
				return err
			}
			return fmt.Errorf("extract: %w", ctx.Err())
		}
		in, ok := next()
		if !ok {
			free <- set
			break
		}
		if in.err != nil {
			werr := wait()
			if werr != nil {
				return werr
			}
			if ctx.Err() != nil {
				return fmt.Errorf("extract: %w", ctx.Err())
			}
			return in.err
		}
		err := e.session.RunWithOptions([]onnxruntime.Value{e.ins[in.slot].val}, e.sets[set].outputs, opts)
		in.done()
		if err != nil {
			werr := wait()
			if ctx.Err() != nil {
				return fmt.Errorf("extract: %w", ctx.Err())
			}
			if werr != nil {
				return werr
			}
			return fmt.Errorf("extract: run batch at stimulus %d: %w", in.first, err)
		}
		b := batch{set: set, first: in.first, k: in.k}
		if len(e.sets) > 1 {
			work <- b
			continue
		}
		if err := consume(b); err != nil {
			return err
		}
		free <- set
	}
	if err := wait(); err != nil {
		return err
	}
	if f, ok := c.(models.Finisher); ok {
		if err := f.Finish(ctx); err != nil {
			return fmt.Errorf("extract: finish: %w", err)
		}
	}
	return nil
}

// fillViews gathers the rows of every layer that has a view for the first
// k stimuli of set: roots first, then the layers derived from their
// gathered rows.
func (e *Extractor) fillViews(set *outSet, k int) {
	for pass := range 2 {
		for i, v := range e.views {
			if v.direct() || (v.from >= 0) != (pass == 1) {
				continue
			}
			var src [][]float32
			if v.from >= 0 {
				src = set.vrows[v.from]
			} else {
				src = set.bufs[v.src].rows
			}
			dst := set.vrows[i]
			for j := range k {
				d, s := dst[j], src[j]
				switch {
				case v.from >= 0:
					for q, u := range v.units {
						d[q] = v.f(u, s[q])
					}
				case v.units == nil:
					for p, x := range s[:len(d)] {
						d[p] = v.f(p, x)
					}
				case v.f == nil:
					for q, u := range v.units {
						d[q] = s[u]
					}
				default:
					for q, u := range v.units {
						d[q] = v.f(u, s[u])
					}
				}
			}
		}
	}
}

// plan decides, for Options.Units, which tensors the graph exposes and how
// every layer's rows come from them; without Units it returns the layers
// themselves and nil views.
func plan(c *onnxmodel.Checked, layers []models.Layer, o Options) ([]models.Layer, []view, error) {
	if o.Units == nil || o.PoolTo > 0 {
		return layers, nil, nil
	}
	elem := onnxmodel.ElementwiseOutputs(c.Model)
	index := make(map[string]int, len(layers))
	for i, l := range layers {
		index[l.Tensor] = i
	}
	// parent[i] is the chosen layer that layer i is an elementwise function
	// fn[i] of, or -1.
	parent := make([]int, len(layers))
	fn := make([]func(p int, x float32) float32, len(layers))
	for i, l := range layers {
		parent[i] = -1
		e, ok := elem[l.Tensor]
		if !ok || l.Type != "float" {
			continue
		}
		j, ok := index[e.Input]
		if !ok || j == i || layers[j].Type != "float" || !slices.Equal(layers[j].Shape, l.Shape) || l.Features() <= 0 {
			continue
		}
		if fn[i], ok = e.Bind(l.Shape); ok {
			parent[i] = j
		}
	}
	var exposed []models.Layer
	src := make([]int, len(layers))
	for i, l := range layers {
		if parent[i] < 0 {
			src[i] = len(exposed)
			exposed = append(exposed, l)
		}
	}
	// Units of the roots first: a derived layer shares its root's, and
	// the caller's order need not be topological.
	rootUnits := make([][]int, len(layers))
	for i, l := range layers {
		if parent[i] >= 0 {
			continue
		}
		rootUnits[i] = o.Units(l)
		for _, u := range rootUnits[i] {
			if u < 0 || int64(u) >= l.Features() {
				return nil, nil, fmt.Errorf("units of layer %s: %d outside 0…%d", l.ID, u, l.Features()-1)
			}
		}
	}
	views := make([]view, len(layers))
	for i, l := range layers {
		// Follow the chain to its exposed root, composing the functions.
		var fs []func(p int, x float32) float32
		r := i
		for steps := 0; parent[r] >= 0; steps++ {
			if steps > len(layers) {
				return nil, nil, fmt.Errorf("elementwise chain through layer %s does not end", l.ID)
			}
			fs = append(fs, fn[r])
			r = parent[r]
		}
		v := view{src: src[r], from: -1, units: rootUnits[r]}
		if r != i && v.units != nil {
			v.from = r // f over the root's gathered rows
		}
		switch len(fs) {
		case 0:
		case 1:
			v.f = fs[0]
		default:
			v.f = func(p int, x float32) float32 {
				for k := len(fs) - 1; k >= 0; k-- {
					x = fs[k](p, x)
				}
				return x
			}
		}
		views[i] = v
	}
	return exposed, views, nil
}

// prepared is a batch's input, ready in e.ins[slot] (or the error that
// stopped preparing it); done hands the tensor back for a later batch.
type prepared struct {
	slot, first, k int
	err            error
	done           func()
}

// inputs returns next, which gives the batches' inputs in order (ok false
// after the last), and stop, which ends the producer (if any) and waits
// for it. With one input tensor next prepares each batch itself.
func (e *Extractor) inputs(ctx context.Context, stim models.Stimuli, total, per int) (next func() (prepared, bool), stop func()) {
	var key string
	if ks, ok := stim.(models.KeyedStimuli); ok && e.loader.Cache != nil {
		key = ks.Key()
	}
	if len(e.ins) == 1 {
		first := 0
		return func() (prepared, bool) {
			if first >= total {
				return prepared{}, false
			}
			k := min(e.batch, total-first)
			p := prepared{first: first, k: k, done: func() {}}
			p.err = e.fill(ctx, stim, key, &e.ins[0], first, k, per)
			first += k
			return p, true
		}, func() {}
	}
	freeIn := make(chan int, len(e.ins))
	for i := range e.ins {
		freeIn <- i
	}
	ready := make(chan prepared, len(e.ins))
	pctx, quit := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ready)
		for first := 0; first < total; first += e.batch {
			var slot int
			select {
			case slot = <-freeIn:
			case <-pctx.Done():
				return
			}
			if pctx.Err() != nil {
				return
			}
			k := min(e.batch, total-first)
			err := e.fill(pctx, stim, key, &e.ins[slot], first, k, per)
			ready <- prepared{slot: slot, first: first, k: k, err: err, done: func() { freeIn <- slot }}
			if err != nil {
				return
			}
		}
	}()
	next = func() (prepared, bool) {
		select {
		case p, ok := <-ready:
			return p, ok
		case <-ctx.Done():
			return prepared{err: fmt.Errorf("extract: %w", context.Cause(ctx))}, true
		}
	}
	return next, func() {
		quit()
		wg.Wait()
	}
}

// fill preprocesses stimuli first..first+k-1 into the input tensor in; a
// short last batch repeats its last image. key names stim's content for
// the pixel cache ("" for none).
func (e *Extractor) fill(ctx context.Context, stim models.Stimuli, key string, in *inBuf, first, k, per int) error {
	for i := range e.batch {
		if i >= k {
			in.copyImage(i, k-1, per)
			continue
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("extract: %w", err)
		}
		pix, stride, step, err := e.loader.Pixels(ctx, stim, key, first+i, e.spec)
		if err != nil {
			return fmt.Errorf("extract: stimulus %d: %w", first+i, err)
		}
		if in.f32 != nil {
			preprocess.Float32Pixels(in.f32[i*per:(i+1)*per], pix, stride, step, e.spec)
		} else {
			preprocess.Uint8Pixels(in.u8[i*per:(i+1)*per], pix, stride, step, e.spec)
		}
	}
	return nil
}

func (in *inBuf) copyImage(dst, src, per int) {
	if in.f32 != nil {
		copy(in.f32[dst*per:(dst+1)*per], in.f32[src*per:(src+1)*per])
	} else {
		copy(in.u8[dst*per:(dst+1)*per], in.u8[src*per:(src+1)*per])
	}
}

// Close releases the session and tensors.
func (e *Extractor) Close() error {
	var errs []error
	if e.session != nil {
		errs = append(errs, e.session.Destroy())
	}
	for _, in := range e.ins {
		errs = append(errs, in.val.Destroy())
	}
	for _, set := range e.sets {
		for _, o := range set.outputs {
			if o != nil {
				errs = append(errs, o.Destroy())
			}
		}
	}
	if e.release != nil {
		e.release()
	}
	return errors.Join(errs...)
}
