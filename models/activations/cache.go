package activations

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"

	"github.com/cortexbench/cortexbench/models"
)

// Key names one layer's reduced activations for one stimulus set. Every
// part is part of the identity: the model file's sha256, the stimulus
// set's hash, the layer ID, the preprocessing spec (models.Spec.String)
// and a description of the reduction (e.g. "rp2048-seed1+pca100-ref<hash>").
type Key struct {
	Model, Stimuli, Layer, Preprocess, Reduction string
}

// String is the object key:
// activations/<model>/<stimuli>/<hash of preprocess and reduction>/<layer>.f32
func (k Key) String() string {
	h := sha256.Sum256([]byte(k.Preprocess + "\x00" + k.Reduction))
	return fmt.Sprintf("activations/%s/%s/%s/%s.f32", k.Model, k.Stimuli, hex.EncodeToString(h[:8]), k.Layer)
}

// Blob layout: "CBA1", rows uint32, cols uint32 (little-endian), then
// rows×cols float32 little-endian, row-major (row = stimulus).
const magic = "CBA1"

func encode(rows, cols int, data []float32) []byte {
	b := make([]byte, 12+4*len(data))
	copy(b, magic)
	binary.LittleEndian.PutUint32(b[4:], uint32(rows))
	binary.LittleEndian.PutUint32(b[8:], uint32(cols))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[12+4*i:], math.Float32bits(v))
	}
	return b
}

// Load reads one cached layer: a rows×cols row-major matrix.
// models.IsNotFound(err) holds when it is not cached.
func Load(ctx context.Context, store models.BlobStore, k Key) (rows, cols int, data []float32, err error) {
	rc, err := store.Get(ctx, k.String())
	if err != nil {
		return 0, 0, nil, fmt.Errorf("load activations %s: %w", k.Layer, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("load activations %s: %w", k.Layer, err)
	}
	if len(b) < 12 || string(b[:4]) != magic {
		return 0, 0, nil, fmt.Errorf("load activations %s: not an activation blob", k.Layer)
	}
	rows, cols = int(binary.LittleEndian.Uint32(b[4:])), int(binary.LittleEndian.Uint32(b[8:]))
	if len(b) != 12+4*rows*cols {
		return 0, 0, nil, fmt.Errorf("load activations %s: %d bytes for %d×%d", k.Layer, len(b), rows, cols)
	}
	data = make([]float32, rows*cols)
	for i := range data {
		data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[12+4*i:]))
	}
	return rows, cols, data, nil
}

// Caching is a Consumer that gathers each layer's (already reduced) rows
// for all stimuli and, at Finish, stores one blob per layer. It holds the
// reduced activations of every layer, so put it after Reducing. Next, if
// not nil, receives every batch as well.
type Caching struct {
	Store models.BlobStore
	Key   func(layer models.Layer) Key
	Total int // number of stimuli
	Next  models.Consumer

	layers map[string]*cachedLayer
	order  []string
}

type cachedLayer struct {
	layer models.Layer
	cols  int
	data  []float32
}

// Consume keeps a copy of rows.
func (c *Caching) Consume(ctx context.Context, l models.Layer, first int, rows [][]float32) error {
	if c.layers == nil {
		c.layers = map[string]*cachedLayer{}
	}
	cl, ok := c.layers[l.ID]
	if !ok {
		cl = &cachedLayer{layer: l, cols: len(rows[0]), data: make([]float32, c.Total*len(rows[0]))}
		c.layers[l.ID] = cl
		c.order = append(c.order, l.ID)
	}
	for i, r := range rows {
		if len(r) != cl.cols || first+i >= c.Total {
			return fmt.Errorf("cache %s: row %d of %d values does not fit %d×%d", l.ID, first+i, len(r), c.Total, cl.cols)
		}
		copy(cl.data[(first+i)*cl.cols:], r)
	}
	if c.Next != nil {
		return c.Next.Consume(ctx, l, first, rows)
	}
	return nil
}

// Finish stores every layer, then finishes Next.
func (c *Caching) Finish(ctx context.Context) error {
	for _, id := range c.order {
		cl := c.layers[id]
		k := c.Key(cl.layer)
		if err := c.Store.Put(ctx, k.String(), bytes.NewReader(encode(c.Total, cl.cols, cl.data))); err != nil {
			return fmt.Errorf("cache %s: %w", id, err)
		}
	}
	if f, ok := c.Next.(models.Finisher); ok {
		return f.Finish(ctx)
	}
	return nil
}

// Missing returns the layers of which no activations are cached: only
// those need extracting.
func Missing(ctx context.Context, store models.BlobStore, layers []models.Layer, key func(models.Layer) Key) ([]models.Layer, error) {
	var out []models.Layer
	for _, l := range layers {
		rc, err := store.Get(ctx, key(l).String())
		if models.IsNotFound(err) {
			out = append(out, l)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("check cache for %s: %w", l.ID, err)
		}
		rc.Close()
	}
	return out, nil
}

// StimulusSetHash hashes an ordered list of stimulus identities (file
// hashes or names), for Key.Stimuli.
func StimulusSetHash(ids []string) string {
	h := sha256.New()
	for _, id := range ids {
		io.WriteString(h, id)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
