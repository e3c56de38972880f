package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxrun"
	"github.com/cortexbench/cortexbench/models/ort"
	"github.com/cortexbench/cortexbench/models/preprocess"
)

const modelsUsage = `usage: cortexbench models [--onnxruntime-lib PATH] SUBCOMMAND ...

subcommands:
  inspect FILE [--json]                         inputs, outputs and layers of an ONNX model
  predict FILE --labels L [--preprocess P] IMAGE... [--json]   top-5 classes per image
  add FILE --name N [--version V] [--family F] [--training-data D] [--preprocess P] [--json]
  list [--json]                                 models added to the registry

--preprocess SPEC says how an image becomes the model's input (README: "Preprocessing specs"):
a preset, optionally with overrides, and/or comma-separated key=value pairs.
  keys      size (input side, required), resize, crop (fraction kept, 0.875),
            aspect (keep|stretch), mean, std (on pixels in [0,1]; one value or
            one per channel, colon-separated), range (255: mean/std written in
            0-255 units), offset, scale (value = (pixel - offset) x scale, 0-255
            units), channels (3), order (RGB|BGR), layout (NCHW|NHWC, required),
            pixel (float|uint8), fov (degrees, 8)
  presets   imagenet (= imagenet_nchw), keras_caffe, keras_tf, keras_torch,
            mobilenet_v2_float, mobilenet_v2_uint8, mobilenet_v1_float, mobilenet_v1_uint8
  examples  torchvision, timm (most models)  imagenet            (torchvision inception_v3: imagenet,size=299)
            timm ViT / inception (0.5 mean)  size=224,crop=0.9,mean=0.5,std=0.5,layout=NCHW
            mmcv/timm configs in 0-255       size=224,mean=123.675:116.28:103.53,std=58.395:57.12:57.375,range=255,layout=NCHW
            Keras (tf.keras.applications)    keras_tf | keras_caffe | keras_torch   (add ,size=S)
            TF-Lite float / uint8            mobilenet_v2_float | mobilenet_v2_uint8 (add ,size=S)
Without --preprocess a 3-channel NCHW float model gets imagenet at its input
size (said on stderr); other inputs must give one (the refusal shows specs
that fit). Implausible values (mean or std above 1 with float pixels, size
under 16 or over 1024) are warned about on stderr.
fov=F is the model's field of view in degrees of visual angle (0 < F <= 180,
default 8): a benchmark stating its images' size D in degrees has them placed on
that screen first (D < F: shrunk onto grey; D > F: the centre zoomed in).
Layers (score --layers, --commit) are named by id (L042.Conv), ONNX node or
tensor name, or PyTorch module path (layer1.0.conv1: the last node torch.onnx.export
made inside that module); 'models inspect' lists them.
A model entry is an ONNX file with one preprocessing spec: the same file with
another --preprocess is another entry, with its own ID and scores. Entries are
registered in the object store (--store, the embedded S3 store by default,
where submissions and the main job put theirs too; or a folder given with
--registry) as models/<file sha256>.onnx (once per file), models/<entry id>.json
(written once, never changed) and models/index.json; add also records the
entry in the registry database (--db). Adding an entry that exists changes
nothing (its name stays).
`

// modelsCmd dispatches "cortexbench models ...".
func modelsCmd(ctx context.Context, env *Env, args []string) error {
	lib := env.Getenv("CORTEXBENCH_ONNXRUNTIME_LIB")
	// The global flag may come before the subcommand.
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		name, val, hasVal := strings.Cut(strings.TrimLeft(args[0], "-"), "=")
		switch {
		case name == "onnxruntime-lib" && hasVal:
			lib, args = val, args[1:]
		case name == "onnxruntime-lib" && len(args) > 1:
			lib, args = args[1], args[2:]
		case name == "h" || name == "help":
			fmt.Fprint(env.Stderr, modelsUsage)
			return flag.ErrHelp
		default:
			fmt.Fprint(env.Stderr, modelsUsage)
			return errUsage
		}
	}
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, modelsUsage)
		return errUsage
	}
	m := &modelsCLI{env: env, lib: lib}
	switch args[0] {
	case "inspect":
		return m.inspect(ctx, args[1:])
	case "predict":
		return m.predict(ctx, args[1:])
	case "add":
		return m.add(ctx, args[1:])
	case "list":
		return m.list(ctx, args[1:])
	}
	fmt.Fprintf(env.Stderr, "cortexbench models: unknown subcommand %q\n\n%s", args[0], modelsUsage)
	return errUsage
}

type modelsCLI struct {
	env *Env
	lib string
}

// flags returns a flag set with the flags every models subcommand has.
func (m *modelsCLI) flags(name, synopsis string) (*flag.FlagSet, *bool, *string) {
	fs := newFlagSet(m.env, "models "+name, "models "+synopsis)
	asJSON := fs.Bool("json", false, "print JSON")
	def := m.lib
	if def == "" {
		def = ort.DefaultLibraryPath
	}
	lib := fs.String("onnxruntime-lib", def, "path of libonnxruntime.so (installed by ./scripts/setup.sh)")
	return fs, asJSON, lib
}

func (m *modelsCLI) runtime(lib string) (*ort.Runtime, error) { return onnxrun.OpenRuntime(lib) }

func (m *modelsCLI) printJSON(v any) error {
	enc := json.NewEncoder(m.env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// load validates FILE (with ONNX Runtime) and enumerates its layers.
func (m *modelsCLI) load(lib, file string) (*ort.Runtime, *onnxmodel.Checked, []models.Layer, error) {
	rt, err := m.runtime(lib)
	if err != nil {
		return nil, nil, nil, err
	}
	c, layers, err := onnxrun.Inspect(rt, file)
	if err != nil {
		return nil, nil, nil, err
	}
	return rt, c, layers, nil
}

func (m *modelsCLI) inspect(ctx context.Context, args []string) error {
	fs, asJSON, lib := m.flags("inspect", "inspect FILE [--json]")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	_, c, layers, err := m.load(*lib, pos[0])
	if err != nil {
		return err
	}
	out := onnxrun.NewInspection(pos[0], c, layers)
	if *asJSON {
		return m.printJSON(out)
	}
	return out.WriteText(m.env.Stdout)
}

// modelStore opens where models are registered: the folder given with
// --registry, else the platform's bucket (the embedded S3 store by
// default), where submissions and the main job register theirs too. The
// platform, when opened, must be closed by the caller.
func (m *modelsCLI) modelStore(ctx context.Context, dir string, pf *platformFlags) (models.BlobStore, *platform, error) {
	if dir != "" {
		return models.DirStore{Dir: dir}, nil, nil
	}
	p, err := pf.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	return p.bucket, p, nil
}

func (m *modelsCLI) predict(ctx context.Context, args []string) error {
	fs, asJSON, lib := m.flags("predict", "predict FILE --labels L [--preprocess P] IMAGE... [--json]")
	labelsPath := fs.String("labels", "", "class names, one a line, in output order (required)")
	pre := fs.String("preprocess", "", "preprocessing spec (see 'cortexbench models -h')")
	registry := fs.String("registry", "", "registry `folder` instead of the object store (its spec is used when the model was added)")
	pf := addPlatformFlags(m.env, fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := checkRequired(m.env, fs, "cortexbench models predict model.onnx --labels labels.txt cat.jpg",
		required{len(pos) == 0, "the ONNX FILE (the first argument)"},
		required{len(pos) == 1, "one IMAGE or more (after FILE)"},
		required{*labelsPath == "", "--labels FILE (class names, one a line, in output order)"}); err != nil {
		return err
	}
	labels, err := onnxrun.ReadLabels(*labelsPath)
	if err != nil {
		return err
	}
	rt, c, layers, err := m.load(*lib, pos[0])
	if err != nil {
		return err
	}
	var store models.BlobStore
	if *pre == "" {
		st, p, err := m.modelStore(ctx, *registry, pf)
		if err != nil {
			return err
		}
		if p != nil {
			defer p.close(ctx)
		}
		store = st
	}
	spec, notes, err := onnxrun.SpecFor(ctx, *pre, store, c)
	if err != nil {
		return specUsage(m.env, pos[0], err)
	}
	printNotes(m.env, notes)
	result, err := onnxrun.Predict(ctx, rt, c, layers, spec, preprocess.Files(pos[1:]), labels)
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	if *asJSON {
		return m.printJSON(result)
	}
	onnxrun.WritePredictions(m.env.Stdout, result)
	return nil
}

func (m *modelsCLI) add(ctx context.Context, args []string) error {
	fs, asJSON, lib := m.flags("add", "add FILE --name N [--version V] [--family F] [--training-data D] [--preprocess P] [--json]")
	name := fs.String("name", "", "model name (required)")
	version := fs.String("version", "", "model version")
	family := fs.String("family", "", "architecture family, e.g. MobileNet")
	training := fs.String("training-data", "", "training data, e.g. ImageNet-1k")
	pre := fs.String("preprocess", "", "preprocessing `spec` (see 'cortexbench models -h'; default: imagenet at the model's input size for a 3-channel NCHW float input)")
	registry := fs.String("registry", "", "registry `folder` instead of the object store")
	pf := addPlatformFlags(m.env, fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError(m.env, fs, fmt.Sprintf("one model FILE at a time (got %s)", strings.Join(pos, " ")))
	}
	if err := checkRequired(m.env, fs, "cortexbench models add model.onnx --name my-model --preprocess imagenet_nchw",
		required{len(pos) == 0, "the ONNX FILE to add (the first argument)"},
		required{*name == "", "--name NAME (the model's name on the leaderboard)"}); err != nil {
		return err
	}
	_, c, layers, err := m.load(*lib, pos[0])
	if err != nil {
		return err
	}
	spec, notes, err := onnxrun.SpecFor(ctx, *pre, nil, c)
	if err != nil {
		return specUsage(m.env, pos[0], err)
	}
	printNotes(m.env, notes)
	if err := onnxmodel.CheckSpec(c, spec); err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	md := models.Metadata{File: c.SHA256, Name: *name, Version: *version, Family: *family, TrainingData: *training,
		Parameters: c.Parameters, FileBytes: int64(len(c.Data)), Opset: c.Opset, Input: c.Input, Outputs: c.Outputs,
		Spec: spec, Layers: len(layers)}
	store, p, err := m.modelStore(ctx, *registry, pf)
	if err != nil {
		return err
	}
	if p != nil {
		defer p.close(ctx)
	}
	reg := &models.Registry{Store: store}
	stored, created, err := reg.Add(ctx, md, bytes.NewReader(c.Data))
	if err != nil {
		return err
	}
	if p != nil {
		if _, _, err := p.db.CreateModel(ctx, registryModel(stored, "")); err != nil {
			return err
		}
	}
	if !created {
		// The entry (this file, this spec) exists: nothing was changed.
		fmt.Fprintf(m.env.Stderr, "this file with preprocessing %s is already registered as %q (model %s): nothing was changed "+
			"(another --preprocess makes a new entry)\n", stored.Spec, stored.Name, stored.ID[:12])
	}
	if *asJSON {
		return m.printJSON(stored)
	}
	verb := "added"
	if !created {
		verb = "already registered:"
	}
	fmt.Fprintf(m.env.Stdout, "%s %s %s (model %s, file %s): %d parameters, %d layers, preprocess %s\n", verb, stored.Name, stored.Version,
		stored.ID[:12], stored.File[:12], stored.Parameters, stored.Layers, stored.Spec)
	return nil
}

func (m *modelsCLI) list(ctx context.Context, args []string) error {
	fs, asJSON, _ := m.flags("list", "list [--withdrawn] [--json]")
	registry := fs.String("registry", "", "registry `folder` instead of the object store")
	withWithdrawn := fs.Bool("withdrawn", false, "also list withdrawn models (left out by default, as everywhere else; marked in the table)")
	pf := addPlatformFlags(m.env, fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		fs.Usage()
		return errUsage
	}
	store, p, err := m.modelStore(ctx, *registry, pf)
	if err != nil {
		return err
	}
	if p != nil {
		defer p.close(ctx)
	}
	reg := &models.Registry{Store: store}
	all, err := reg.List(ctx)
	if err != nil {
		return err
	}
	// Withdrawn models leave every listing (issue 17): the registry
	// database knows them (a --registry folder has none).
	gone := map[string]bool{}
	if p != nil {
		if gone, err = p.db.WithdrawnModels(ctx); err != nil {
			return err
		}
	}
	if !*withWithdrawn {
		kept := all[:0]
		for _, md := range all {
			if !gone[md.ID] {
				kept = append(kept, md)
			}
		}
		all = kept
	}
	if *asJSON {
		if all == nil {
			all = []models.Metadata{}
		}
		return m.printJSON(all)
	}
	tw := tabwriter.NewWriter(m.env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tFILE\tNAME\tVERSION\tFAMILY\tPARAMETERS\tLAYERS\tINPUT\tPREPROCESS")
	for _, md := range all {
		name := md.Name
		if gone[md.ID] {
			name += " (withdrawn)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", md.ID[:12], md.File[:12], name, md.Version, md.Family, md.Parameters, md.Layers, md.Input, md.Spec)
	}
	return tw.Flush()
}
