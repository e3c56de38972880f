package preprocess

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cortexbench/cortexbench/models"
)

// PixelCache keeps, for the length of one run that scores several models
// (issue 18), each image's pixels after the geometry (decode, crop,
// resize: Geometry), so that the models of the run that share the
// geometry decode and resize each image once, not once each. The tensor
// follows from these pixels alone (the spec's channel order and affine),
// so a model reading them gets, value for value, the tensor of a fresh
// decoding.
//
// The pixels are on disk, one record per image under the run's own
// folder, not in memory (every built-in image at 224² is ~1.9 GB). Each
// record carries the sha256 of its key and content: a record that fails
// it (a flipped byte, a truncated file) is reported, removed and the image
// decoded again, so a damaged record never changes a score. The cache
// stops writing at its size limit (later models then decode what is
// missing), and its folder is removed by Close; folders left by runs that
// ended without Close (killed) are removed when the next cache opens in
// the same root. Only geometries that at least two models of the run use
// (Use) are written. Safe for concurrent use.
type PixelCache struct {
	root, dir string
	lock      *os.File
	limit     int64
	log       *slog.Logger

	mu      sync.Mutex
	uses    map[string]int // geometry key → models of the run using it
	used    int64          // bytes written
	stopped bool           // full, or a write failed: write no more
	stats   PixelStats
}

// PixelStats count what a PixelCache did.
type PixelStats struct {
	// Hits are images read back; Misses decoded (and resized) because no
	// record was there; Corrupt records failed their checksum (and were
	// decoded again: they count as misses too).
	Hits, Misses, Corrupt int64
	// Written records and their bytes.
	Written, Bytes int64
	// DecodeSeconds is the time the misses took to decode and resize;
	// ReadSeconds the hits' reading and checking; WriteSeconds the
	// writing.
	DecodeSeconds, ReadSeconds, WriteSeconds float64
}

// SavedSeconds estimates the decoding time the hits saved: as many
// decodings at the misses' mean time, less the time reading the hits.
func (s PixelStats) SavedSeconds() float64 {
	if s.Misses == 0 {
		return 0
	}
	return float64(s.Hits)*s.DecodeSeconds/float64(s.Misses) - s.ReadSeconds
}

// DefaultPixelCacheLimit bounds a run's pixel cache on disk: every
// built-in image at 224² (~1.9 GB) with room to spare.
const DefaultPixelCacheLimit = 4 << 30

const (
	pixelMagic   = "CBPIXv1\n"
	runPrefix    = "run-"
	openPrefix   = "open-"
	staleOpening = time.Hour
)

// OpenPixelCache makes a new run's pixel cache in a folder of its own
// under root (e.g. <store>/cache/pixels), holding at most limit bytes
// (DefaultPixelCacheLimit when ≤ 0), after removing the folders of runs
// that are over (their lock is free). log receives warnings (nil:
// slog.Default()).
func OpenPixelCache(root string, limit int64, log *slog.Logger) (*PixelCache, error) {
	if limit <= 0 {
		limit = DefaultPixelCacheLimit
	}
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("pixel cache: %w", err)
	}
	removeStale(root, log)
	// The folder gets its lock before it gets the name that others clean.
	tmp, err := os.MkdirTemp(root, openPrefix)
	if err != nil {
		return nil, fmt.Errorf("pixel cache: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(tmp, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err == nil {
		if err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			lock.Close()
		}
	}
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("pixel cache: lock %s: %w", tmp, err)
	}
	dir := filepath.Join(root, runPrefix+strconv.Itoa(os.Getpid())+"-"+strings.TrimPrefix(filepath.Base(tmp), openPrefix))
	if err := os.Rename(tmp, dir); err != nil {
		lock.Close()
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("pixel cache: %w", err)
	}
	return &PixelCache{root: root, dir: dir, lock: lock, limit: limit, log: log, uses: map[string]int{}}, nil
}

// removeStale removes the run folders under root whose lock nobody holds
// (their process ended without Close), and half-made ones over an hour
// old.
func removeStale(root string, log *slog.Logger) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join(root, e.Name())
		switch {
		case strings.HasPrefix(e.Name(), runPrefix):
			f, err := os.OpenFile(filepath.Join(p, "lock"), os.O_RDWR, 0)
			if err == nil {
				err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
				f.Close()
			}
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				continue // in use by a live run
			}
		case strings.HasPrefix(e.Name(), openPrefix):
			if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < staleOpening {
				continue
			}
		default:
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			log.Warn("pixel cache: cannot remove the folder of an earlier run", "dir", p, "err", err)
		}
	}
}

// Dir is this run's folder.
func (c *PixelCache) Dir() string { return c.dir }

// GeometryKey names what Geometry does with a spec: models whose specs
// have the same key get the same pixels.
func GeometryKey(s models.Spec) string {
	return fmt.Sprintf("size=%d,resize=%d,crop=%s,stretch=%t", s.InputSize, s.Resize(), strconv.FormatFloat(s.CropFraction, 'g', -1, 64), s.Stretch)
}

// Use declares that a model of the run, preprocessed by s, will read
// images: the pixels of a geometry are written only once a second model
// uses it.
func (c *PixelCache) Use(s models.Spec) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.uses[GeometryKey(s)]++
}

// Stats are the counts so far.
func (c *PixelCache) Stats() PixelStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Close removes the run's folder.
func (c *PixelCache) Close() error {
	err := os.RemoveAll(c.dir)
	c.lock.Close()
	if err != nil {
		return fmt.Errorf("pixel cache: remove %s: %w", c.dir, err)
	}
	return nil
}

func (c *PixelCache) shared(geom string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.uses[geom] >= 2
}

// recordID is the sha256 naming image i of the stimulus set setKey under
// geometry geom.
func recordID(geom, setKey string, i int) [32]byte {
	return sha256.Sum256([]byte("cortexbench pixels v1\x00" + geom + "\x00" + setKey + "\x00" + strconv.Itoa(i)))
}

func (c *PixelCache) path(id [32]byte) string {
	h := hex.EncodeToString(id[:])
	return filepath.Join(c.dir, h[:2], h[2:])
}

// get reads image i's record into buf (n·n·3 bytes); ok is false when
// there is none or it fails its checks (then it is removed).
func (c *PixelCache) get(geom, setKey string, i, n int, buf []byte) ([]byte, bool) {
	t0 := time.Now()
	id := recordID(geom, setKey, i)
	p := c.path(id)
	f, err := os.Open(p)
	if err != nil {
		return buf, false
	}
	size := len(pixelMagic) + 32 + 4 + n*n*3 + 32
	rec := bytesOf(buf, size+1)
	k, err := io.ReadFull(f, rec)
	f.Close()
	var bad string
	switch {
	case err != io.ErrUnexpectedEOF || k != size:
		bad = fmt.Sprintf("%d bytes, want %d", k, size)
	case string(rec[:len(pixelMagic)]) != pixelMagic:
		bad = "not a pixel record"
	case !bytes.Equal(rec[len(pixelMagic):len(pixelMagic)+32], id[:]):
		bad = "the record of another image"
	case binary.LittleEndian.Uint32(rec[len(pixelMagic)+32:]) != uint32(n):
		bad = "another size"
	default:
		if sum := sha256.Sum256(rec[:size-32]); !bytes.Equal(sum[:], rec[size-32:size]) {
			bad = "checksum mismatch"
		}
	}
	if bad != "" {
		c.log.Warn("pixel cache: a damaged record is ignored and the image decoded again", "record", p, "image", i, "problem", bad)
		os.Remove(p)
		c.mu.Lock()
		c.stats.Corrupt++
		c.mu.Unlock()
		return rec[:0], false
	}
	c.mu.Lock()
	c.stats.Hits++
	c.stats.ReadSeconds += time.Since(t0).Seconds()
	c.mu.Unlock()
	return rec, true
}

func bytesOf(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// put writes image i's pixels (n·n·3 bytes), unless the cache is full or
// stopped; buf is scratch space.
func (c *PixelCache) put(geom, setKey string, i, n int, rgb, buf []byte) []byte {
	c.mu.Lock()
	size := int64(len(pixelMagic) + 32 + 4 + len(rgb) + 32)
	if c.stopped {
		c.mu.Unlock()
		return buf
	}
	if c.used+size > c.limit {
		c.stopped = true
		c.mu.Unlock()
		c.log.Warn("pixel cache full: later models decode the remaining images again", "limit_bytes", c.limit, "dir", c.dir)
		return buf
	}
	c.used += size
	c.mu.Unlock()
	t0 := time.Now()
	id := recordID(geom, setKey, i)
	rec := append(buf[:0], pixelMagic...)
	rec = append(rec, id[:]...)
	rec = binary.LittleEndian.AppendUint32(rec, uint32(n))
	rec = append(rec, rgb...)
	sum := sha256.Sum256(rec)
	rec = append(rec, sum[:]...)
	p := c.path(id)
	err := os.MkdirAll(filepath.Dir(p), 0o755)
	if err == nil {
		tmp := p + ".tmp"
		if err = os.WriteFile(tmp, rec, 0o644); err == nil {
			err = os.Rename(tmp, p)
		}
		if err != nil {
			os.Remove(tmp)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.used -= size
		if !c.stopped {
			c.stopped = true
			c.log.Warn("pixel cache: cannot write, later models decode the images again", "dir", c.dir, "err", err)
		}
		return rec
	}
	c.stats.Written++
	c.stats.Bytes += size
	c.stats.WriteSeconds += time.Since(t0).Seconds()
	return rec
}

func (c *PixelCache) miss(took time.Duration) {
	c.mu.Lock()
	c.stats.Misses++
	c.stats.DecodeSeconds += took.Seconds()
	c.mu.Unlock()
}

// Loader gets images' pixels after the geometry for one extractor, from
// Cache when it has them, else by decoding (and then into Cache when the
// geometry is shared), reusing its buffers from image to image. Cache nil
// always decodes. Not safe for concurrent use.
type Loader struct {
	Cache   *PixelCache
	scratch *image.RGBA
	rgb     []byte
	rec     []byte
}

// Pixels returns image i of stim after s's geometry, as R, G, B at
// pix[y*stride+x*step:] (valid until the next call). setKey names stim's
// content (models.KeyedStimuli; "" for stimuli without a key, never
// cached).
func (l *Loader) Pixels(ctx context.Context, stim models.Stimuli, setKey string, i int, s models.Spec) (pix []uint8, stride, step int, err error) {
	c := l.Cache
	var geom string
	if c != nil && setKey != "" {
		if geom = GeometryKey(s); !c.shared(geom) {
			geom = ""
		}
	}
	n := s.InputSize
	if geom != "" {
		var ok bool
		if l.rec, ok = c.get(geom, setKey, i, n, l.rec); ok {
			off := len(pixelMagic) + 32 + 4
			return l.rec[off : off+n*n*3], 3 * n, 3, nil
		}
	}
	t0 := time.Now()
	img, err := stim.Image(ctx, i)
	if err != nil {
		return nil, 0, 0, err
	}
	l.scratch = Geometry(l.scratch, img, s)
	if geom != "" {
		c.miss(time.Since(t0))
		l.rgb = RGB(l.rgb, l.scratch)
		l.rec = c.put(geom, setKey, i, n, l.rgb, l.rec)
	}
	return l.scratch.Pix, l.scratch.Stride, 4, nil
}
