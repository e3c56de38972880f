package onnxrun

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/ort"
	"github.com/cortexbench/cortexbench/models/preprocess"
)

// Inspection describes a validated model: its input, outputs and layers
// ('cortexbench models inspect'; the JSON form is the command's --json).
type Inspection struct {
	File       string       `json:"file"`
	SHA256     string       `json:"sha256"`
	Opset      int64        `json:"opset"`
	Parameters int64        `json:"parameters"`
	Layout     string       `json:"layout"`
	Input      TensorInfo   `json:"input"`
	Outputs    []TensorInfo `json:"outputs"`
	Layers     []LayerInfo  `json:"layers"`
	// Spec is the spec used when none is given (onnxmodel.DefaultSpec),
	// "" when the input has no default and a spec must be given.
	Spec string `json:"suggested_preprocess"`

	checked *onnxmodel.Checked
	layers  []models.Layer
}

// TensorInfo is a graph input or output.
type TensorInfo struct {
	Name  string  `json:"name"`
	Type  string  `json:"type"`
	Shape []int64 `json:"shape"`
}

// LayerInfo is a layer that can be extracted.
type LayerInfo struct {
	ID          string  `json:"id"`
	Op          string  `json:"op"`
	Type        string  `json:"type"`
	Shape       []int64 `json:"shape"`
	Depth       float64 `json:"depth"`
	IsOutput    bool    `json:"is_output,omitempty"`
	PerStimulus bool    `json:"per_stimulus"`
	Tensor      string  `json:"tensor"`
	Node        string  `json:"node"`
	// Module is the PyTorch module path of a node torch.onnx.export
	// named (models.ModulePath), accepted by --layers and --commit.
	Module string `json:"module,omitempty"`
}

func tensorInfo(t models.Tensor) TensorInfo { return TensorInfo{t.Name, t.Type, t.Shape} }

// NewInspection describes the model c (read from file) with its layers.
func NewInspection(file string, c *onnxmodel.Checked, layers []models.Layer) Inspection {
	out := Inspection{File: file, SHA256: c.SHA256, Opset: c.Opset, Parameters: c.Parameters, Layout: string(c.Layout),
		Input: tensorInfo(c.Input), checked: c, layers: layers}
	if def, _, err := onnxmodel.DefaultSpec(c); err == nil {
		out.Spec = def.String()
	}
	for _, o := range c.Outputs {
		out.Outputs = append(out.Outputs, tensorInfo(o))
	}
	for _, l := range layers {
		out.Layers = append(out.Layers, LayerInfo{l.ID, l.Op, l.Type, l.Shape, l.Depth, l.IsOutput, l.PerStimulus, l.Tensor, l.Node, models.ModulePath(l.Node)})
	}
	return out
}

// WriteText writes the inspection as text: the model, then a table of its
// layers.
func (in Inspection) WriteText(w io.Writer) error {
	c := in.checked
	fmt.Fprintf(w, "file        %s\nsha256      %s\nopset       %d\nparameters  %d\nlayout      %s\ninput       %s\n", in.File, c.SHA256, c.Opset, c.Parameters, c.Layout, c.Input)
	for _, o := range c.Outputs {
		fmt.Fprintf(w, "output      %s\n", o)
	}
	if _, name, err := onnxmodel.DefaultSpec(c); err == nil {
		fmt.Fprintf(w, "preprocess  %s (the default; --preprocess changes it)\n", name)
	} else {
		fmt.Fprintf(w, "preprocess  no default for this input: give --preprocess (see 'cortexbench models -h')\n")
	}
	fmt.Fprintf(w, "layers      %d (--layers and --commit take the ID, the tensor or node name, or a PyTorch module path)\n\n", len(in.layers))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	module := false
	for _, l := range in.layers {
		module = module || models.ModulePath(l.Node) != ""
	}
	head := "ID\tOP\tTYPE\tSHAPE\tDEPTH\tOUT\tTENSOR"
	if module {
		head += "\tMODULE"
	}
	fmt.Fprintln(tw, head)
	for _, l := range in.layers {
		mark := ""
		if l.IsOutput {
			mark = "*"
		} else if !l.PerStimulus {
			mark = "const"
		}
		row := fmt.Sprintf("%s\t%s\t%s\t%s\t%.3f\t%s\t%s", l.ID, l.Op, l.Type, (models.Tensor{Shape: l.Shape}).String()[1:], l.Depth, mark, shorten(l.Tensor, 60))
		if module {
			row += "\t" + models.ModulePath(l.Node)
		}
		fmt.Fprintln(tw, row)
	}
	return tw.Flush()
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n/2-1] + "…" + s[len(s)-n/2+1:]
}

// ReadLabels reads class names, one a line.
func ReadLabels(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, strings.TrimSpace(sc.Text()))
	}
	return out, sc.Err()
}

// Prediction is the top-5 classes of one image.
type Prediction struct {
	Image string           `json:"image"`
	Top   []PredictionItem `json:"top5"`
}

// PredictionItem is one class and its score.
type PredictionItem struct {
	Class int     `json:"class"`
	Label string  `json:"label"`
	Score float32 `json:"score"`
}

// Predict runs the model's first per-image output over the images and
// returns each image's top-5 classes, named by labels.
func Predict(ctx context.Context, rt *ort.Runtime, c *onnxmodel.Checked, layers []models.Layer, spec models.Spec, images preprocess.Files, labels []string) ([]Prediction, error) {
	var outs []models.Layer
	for _, l := range layers {
		if l.IsOutput && l.PerStimulus {
			outs = append(outs, l)
		}
	}
	if len(outs) == 0 {
		return nil, fmt.Errorf("the model has no per-image output tensor")
	}
	e, err := rt.NewExtractor(c, spec, outs[:1], ort.Options{})
	if err != nil {
		return nil, err
	}
	defer e.Close()
	var col models.Collector
	if err := e.Run(ctx, images, &col, nil); err != nil {
		return nil, err
	}
	var result []Prediction
	for i, img := range images {
		top, err := models.TopK(col.Rows[i], labels, 5)
		if err != nil {
			return nil, err
		}
		p := Prediction{Image: img}
		for _, t := range top {
			p.Top = append(p.Top, PredictionItem{t.Class, t.Label, t.Score})
		}
		result = append(result, p)
	}
	return result, nil
}

// WritePredictions writes each image and its top classes as text.
func WritePredictions(w io.Writer, ps []Prediction) {
	for _, p := range ps {
		fmt.Fprintln(w, p.Image)
		for _, t := range p.Top {
			fmt.Fprintf(w, "  %.4f  %4d  %s\n", t.Score, t.Class, t.Label)
		}
	}
}
