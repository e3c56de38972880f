package preprocess

import (
	"archive/zip"
	"context"
	"fmt"
	"image"
	"path"
	"sort"
	"strings"
)

// Files is a stimulus set of image files, in the given order.
type Files []string

// Len is the number of images.
func (f Files) Len() int { return len(f) }

// Image decodes image i.
func (f Files) Image(_ context.Context, i int) (image.Image, error) { return DecodeFile(f[i]) }

// Zip is a stimulus set read from the JPEG and PNG members of a zip
// archive, sorted by name.
type Zip struct {
	r     *zip.ReadCloser
	files []*zip.File
}

// OpenZip opens a zip of images.
func OpenZip(name string) (*Zip, error) {
	r, err := zip.OpenReader(name)
	if err != nil {
		return nil, fmt.Errorf("open image zip: %w", err)
	}
	z := &Zip{r: r}
	for _, f := range r.File {
		switch strings.ToLower(path.Ext(f.Name)) {
		case ".jpg", ".jpeg", ".png":
			if !strings.HasPrefix(path.Base(f.Name), "._") {
				z.files = append(z.files, f)
			}
		}
	}
	sort.Slice(z.files, func(i, j int) bool { return z.files[i].Name < z.files[j].Name })
	return z, nil
}

// Len is the number of images.
func (z *Zip) Len() int { return len(z.files) }

// Name is the member name of image i.
func (z *Zip) Name(i int) string { return z.files[i].Name }

// Image decodes image i.
func (z *Zip) Image(_ context.Context, i int) (image.Image, error) {
	rc, err := z.files[i].Open()
	if err != nil {
		return nil, fmt.Errorf("open %s in zip: %w", z.files[i].Name, err)
	}
	defer rc.Close()
	img, err := Decode(rc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", z.files[i].Name, err)
	}
	return img, nil
}

// Limit keeps the first n images.
func (z *Zip) Limit(n int) {
	if n < len(z.files) {
		z.files = z.files[:n]
	}
}

// Close closes the archive.
func (z *Zip) Close() error { return z.r.Close() }
