package reference

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/models"
)

// jpegOf encodes a 16×16 image of one colour (k picks it).
func jpegOf(t *testing.T, k int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for p := range 256 {
		img.Set(p%16, p/16, color.RGBA{uint8(17 * k), uint8(p), uint8(255 - 9*k), 255})
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// writePool writes a datasets folder with the pool's layout: two zips of
// images (the second holding a copy of the first zip's image 0) and
// three files, one of them again a copy. It returns the zips' hashes and
// every image's bytes by index k.
func writePool(t *testing.T, dir string) (zips []string, imgs map[int][]byte) {
	t.Helper()
	imgs = map[int][]byte{}
	for k := range 16 {
		imgs[k] = jpegOf(t, k)
	}
	zdir := filepath.Join(dir, CowleyImages)
	fdir := filepath.Join(dir, AlgonautsStimuli)
	for _, d := range []string{zdir, fdir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for z, members := range [][]int{{0, 1, 2, 3, 4, 5}, {0, 6, 7, 8, 9, 10}} {
		var b bytes.Buffer
		w := zip.NewWriter(&b)
		for _, k := range members {
			f, err := w.Create("session/img" + string(rune('a'+k)) + ".jpg")
			if err != nil {
				t.Fatal(err)
			}
			f.Write(imgs[k])
		}
		w.Close()
		if err := os.WriteFile(filepath.Join(zdir, "images_"+string(rune('1'+z))+".zip"), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		zips = append(zips, sum(b.Bytes()))
	}
	for i, k := range []int{11, 12, 6} {
		if err := os.WriteFile(filepath.Join(fdir, "image_0"+string(rune('1'+i))+".jpg"), imgs[k], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return zips, imgs
}

func TestPoolDrawLeavesOutTheBenchmarksImages(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	zips, imgs := writePool(t, dir)
	p, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Images) != 13 { // images 0…12, duplicates counted once
		t.Fatalf("pool of %d distinct images, want 13", len(p.Images))
	}
	// A benchmark showing the first zip and (as a file) image 12: left
	// are 6…11 (image 0 is also in the second zip, but it is shown).
	used := models.UsedImages{Benchmark: "lab.IT", Archives: map[string]bool{zips[0]: true},
		Content: func(context.Context) (map[string]bool, error) { return map[string]bool{sum(imgs[12]): true}, nil }}
	s, err := p.Draw(ctx, used, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{}
	for _, k := range []int{6, 7, 8, 9, 10, 11} {
		allowed[sum(imgs[k])] = true
	}
	for _, im := range s.Images {
		if !allowed[im.SHA256] {
			t.Errorf("drawn %s (%s): the benchmark shows it", im.Source, im.SHA256[:8])
		}
	}
	if img, err := s.Image(ctx, 0); err != nil || img.Bounds().Dx() != 16 {
		t.Fatalf("decode a drawn image: %v", err)
	}
	again, err := p.Draw(ctx, used, 5, 1)
	if err != nil || again.ID != s.ID || len(s.Name()) != 12 {
		t.Errorf("the same draw gave set %s then %s (%v)", s.ID, again.ID, err)
	}
	ids := map[string]bool{}
	for seed := range uint64(4) {
		o, err := p.Draw(ctx, used, 3, seed)
		if err != nil {
			t.Fatal(err)
		}
		ids[o.ID] = true
	}
	if len(ids) < 2 {
		t.Errorf("4 seeds drew the same 3 of 6 images")
	}
	if _, err := p.Draw(ctx, used, 7, 1); !errors.Is(err, ErrTooFew) || !strings.Contains(err.Error(), "lab.IT") {
		t.Errorf("7 images from 6 left: %v", err)
	}
	if _, err := Open(t.TempDir()); err == nil || !strings.Contains(err.Error(), "--data") {
		t.Errorf("an empty datasets folder: %v", err)
	}
}
