package activations

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"sync"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/storage/objstore"
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

// Blob layout (format 2): "CBA2", rows uint32, cols uint32, then the
// CRC-32C (Castagnoli) of the blob without these 4 bytes, then rows×cols
// float32, all little-endian, row-major (row = stimulus). The checksum
// catches a corrupted cache entry, which would otherwise change scores
// silently. CRC-32C rather than sha256: the cache is read on every run,
// and on amd64 and arm64 it is computed in hardware (~18 GB/s here against
// 1.5 GB/s for sha256, ~6 ms per 100 MB), while it detects every burst of
// up to 32 flipped bits and misses a random corruption with odds 2⁻³².
// Format 1 ("CBA1": the same without the checksum) is still recognised,
// as unverified.
const (
	magic      = "CBA2"
	magicV1    = "CBA1"
	headerSize = 16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrUnverified is returned (wrapped) by Load for an entry stored without
// a checksum (by an older version): it cannot be trusted, so treat it as
// missing; storing the layer again replaces it.
var ErrUnverified = errors.New("cached without a checksum")

// Untrusted reports whether Load's err means the entry is there but must
// not be used (corrupt or unverified): extract the layer again and store
// it over the entry.
func Untrusted(err error) bool {
	return objstore.IsCorrupt(err) || errors.Is(err, ErrUnverified)
}

func encode(rows, cols int, data []float32) []byte {
	b := make([]byte, headerSize+4*len(data))
	copy(b, magic)
	binary.LittleEndian.PutUint32(b[4:], uint32(rows))
	binary.LittleEndian.PutUint32(b[8:], uint32(cols))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[headerSize+4*i:], math.Float32bits(v))
	}
	binary.LittleEndian.PutUint32(b[12:], checksum(b))
	return b
}

// checksum is the CRC-32C of a format 2 blob, its own 4 bytes left out.
func checksum(b []byte) uint32 {
	return crc32.Update(crc32.Checksum(b[:12], castagnoli), castagnoli, b[headerSize:])
}

// Load reads one cached layer: a rows×cols row-major matrix.
// models.IsNotFound(err) holds when it is not cached; Untrusted(err) when
// the stored entry is corrupt (objstore.IsCorrupt, the error names the
// object) or has no checksum (ErrUnverified).
func Load(ctx context.Context, store models.BlobStore, k Key) (rows, cols int, data []float32, err error) {
	key := k.String()
	rc, err := store.Get(ctx, key)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("load activations %s: %w", k.Layer, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("load activations %s: %w", k.Layer, err)
	}
	switch {
	case len(b) >= 4 && string(b[:4]) == magicV1:
		return 0, 0, nil, fmt.Errorf("load activations %s: object %s: %w", k.Layer, key, ErrUnverified)
	case len(b) < headerSize || string(b[:4]) != magic:
		return 0, 0, nil, fmt.Errorf("load activations %s: %w", k.Layer, objstore.Corrupt(key, "not an activation blob (%d bytes)", len(b)))
	}
	if got, want := checksum(b), binary.LittleEndian.Uint32(b[12:]); got != want {
		return 0, 0, nil, fmt.Errorf("load activations %s: %w", k.Layer, objstore.Corrupt(key, "CRC-32C %08x, stored with %08x", got, want))
	}
	rows, cols = int(binary.LittleEndian.Uint32(b[4:])), int(binary.LittleEndian.Uint32(b[8:]))
	if int64(len(b)) != headerSize+4*int64(rows)*int64(cols) {
		return 0, 0, nil, fmt.Errorf("load activations %s: %w", k.Layer, objstore.Corrupt(key, "%d bytes for %d×%d", len(b), rows, cols))
	}
	data = make([]float32, rows*cols)
	for i := range data {
		data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[headerSize+4*i:]))
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

// Finish finishes Next while it stores every layer, storeAtOnce at a
// time: each store is a request to the object store, hashing and a
// durable write, on the scoring's path. One at a time, the 57 layers of
// MobileNetV1 on 92 images took 1.25 s of a 2.8 s score; four at a time,
// 0.6 s (more at once gained nothing). The first error of either is
// returned, after both are done.
func (c *Caching) Finish(ctx context.Context) error {
	stored := make(chan error, 1)
	go func() { stored <- c.store(ctx) }()
	var err error
	if f, ok := c.Next.(models.Finisher); ok {
		err = f.Finish(ctx)
	}
	if serr := <-stored; err == nil {
		err = serr
	}
	return err
}

// storeAtOnce bounds the layers stored at the same time.
const storeAtOnce = 4

// store puts every layer's blob, storeAtOnce at a time, and returns the
// first error (in the layers' order).
func (c *Caching) store(ctx context.Context) error {
	errs := make([]error, len(c.order))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(storeAtOnce, len(c.order)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				cl := c.layers[c.order[i]]
				if err := c.Store.Put(ctx, c.Key(cl.layer).String(), bytes.NewReader(encode(c.Total, cl.cols, cl.data))); err != nil {
					errs[i] = fmt.Errorf("cache %s: %w", cl.layer.ID, err)
				}
			}
		}()
	}
	for i := range c.order {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
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
