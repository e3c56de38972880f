// Package reference is the pool of natural images that PCA reductions of
// layer activations are fitted on (issue 16): the images of the Cowley et
// al. (2023) V4 sessions (cowley2023-v4/images/*.zip, 112×112 JPEG) and
// the 78 Algonauts 2019 test photos (algonauts2019-78/stimuli), read from
// the shared datasets folder. For a benchmark, Draw leaves out every image
// it shows (same content, or a member of the same archive) and draws a
// seeded sample; the sample is named by a hash of its images' contents, so
// a score can say exactly which reference set its reduction was fitted on.
package reference

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // the pool's images
	_ "image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cortexbench/cortexbench/models"
)

// The pool's folders inside the datasets folder.
const (
	CowleyImages     = "cowley2023-v4/images"
	AlgonautsStimuli = "algonauts2019-78/stimuli"
)

// DefaultImages is the default size of a drawn reference set.
const DefaultImages = 1000

// Image is one image of the pool.
type Image struct {
	SHA256  string // hex sha256 of the image file's bytes
	Archive string // hex sha256 of the zip it is a member of; "" for a file
	Source  string // where it was read: a path, or zip path + "!" + member
	data    []byte
}

// Pool is every distinct image (by content) of the reference folders, in
// order of content hash.
type Pool struct {
	Dir    string
	Images []Image
}

// Open reads the pool from the datasets folder dir. A missing folder is an
// error saying where the images were looked for and how to point at them.
func Open(dir string) (*Pool, error) {
	zips, err := filepath.Glob(filepath.Join(dir, CowleyImages, "*.zip"))
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, AlgonautsStimuli, "*.jpg"))
	if err != nil {
		return nil, err
	}
	if len(zips) == 0 || len(files) == 0 {
		return nil, fmt.Errorf("reference images for PCA not found: need %s/*.zip and %s/*.jpg under the datasets folder %q (give the folder with --data)",
			CowleyImages, AlgonautsStimuli, dir)
	}
	p := &Pool{Dir: dir}
	seen := map[string]bool{}
	add := func(im Image) {
		if !seen[im.SHA256] {
			seen[im.SHA256] = true
			p.Images = append(p.Images, im)
		}
	}
	for _, z := range zips {
		data, err := os.ReadFile(z)
		if err != nil {
			return nil, fmt.Errorf("reference images: %w", err)
		}
		zsum := sha256.Sum256(data)
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, fmt.Errorf("reference images: read %s: %w", z, err)
		}
		for _, f := range zr.File {
			if f.FileInfo().IsDir() || !isImage(f.Name) {
				continue
			}
			b, err := readMember(f)
			if err != nil {
				return nil, fmt.Errorf("reference images: %s!%s: %w", z, f.Name, err)
			}
			sum := sha256.Sum256(b)
			add(Image{SHA256: hex.EncodeToString(sum[:]), Archive: hex.EncodeToString(zsum[:]), Source: z + "!" + f.Name, data: b})
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reference images: %w", err)
		}
		sum := sha256.Sum256(b)
		add(Image{SHA256: hex.EncodeToString(sum[:]), Source: f, data: b})
	}
	slices.SortFunc(p.Images, func(a, b Image) int { return strings.Compare(a.SHA256, b.SHA256) })
	return p, nil
}

func isImage(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".png":
		return true
	}
	return false
}

func readMember(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// ErrTooFew is returned by Draw when fewer images than asked for remain
// once the benchmark's are left out.
var ErrTooFew = errors.New("reference: too few images")

// Draw returns n images of the pool drawn with seed, leaving out those
// used shows (same content, or members of an archive it uses).
func (p *Pool) Draw(ctx context.Context, used models.UsedImages, n int, seed uint64) (*Set, error) {
	if n < 2 {
		return nil, fmt.Errorf("reference set of %d images: need at least 2", n)
	}
	content := map[string]bool{}
	if used.Content != nil {
		var err error
		if content, err = used.Content(ctx); err != nil {
			return nil, fmt.Errorf("the images of %s: %w", used.Benchmark, err)
		}
	}
	var cand []Image
	for _, im := range p.Images {
		if content[im.SHA256] || (im.Archive != "" && used.Archives[im.Archive]) {
			continue
		}
		cand = append(cand, im)
	}
	if len(cand) < n {
		return nil, fmt.Errorf("%w: %d reference images asked for, %d of the pool's %d are not shown by %s (ask for fewer)",
			ErrTooFew, n, len(cand), len(p.Images), used.Benchmark)
	}
	r := rand.New(rand.NewPCG(seed, 0x7265666572656e63)) // "referenc"
	perm := r.Perm(len(cand))
	s := &Set{Images: make([]Image, n)}
	for i := range n {
		s.Images[i] = cand[perm[i]]
	}
	slices.SortFunc(s.Images, func(a, b Image) int { return strings.Compare(a.SHA256, b.SHA256) })
	h := sha256.New()
	for _, im := range s.Images {
		fmt.Fprintln(h, im.SHA256)
	}
	s.ID = hex.EncodeToString(h.Sum(nil))
	return s, nil
}

// Set is a drawn reference set, in order of content hash: models.Stimuli.
type Set struct {
	Images []Image
	// ID is the hex sha256 of the images' content hashes, one a line in
	// order: the set's name.
	ID string
}

// Name is the short name of the set in score keys: ID's first 12 digits.
func (s *Set) Name() string { return s.ID[:12] }

// Len returns the number of images.
func (s *Set) Len() int { return len(s.Images) }

// Image decodes image i.
func (s *Set) Image(_ context.Context, i int) (image.Image, error) {
	img, _, err := image.Decode(bytes.NewReader(s.Images[i].data))
	if err != nil {
		return nil, fmt.Errorf("decode reference image %s: %w", s.Images[i].Source, err)
	}
	return img, nil
}

// Key names the set's content, for activation caches.
func (s *Set) Key() string { return "reference:" + s.ID }
