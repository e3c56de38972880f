package benchmarks

import (
	"archive/zip"
	"image/color"
	"io"
	"testing"
)

type zipWriter struct{ w *zip.Writer }

func newZip(w io.Writer) *zipWriter { return &zipWriter{zip.NewWriter(w)} }

func (z *zipWriter) add(t testing.TB, name string, data []byte) {
	t.Helper()
	f, err := z.w.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
}

func (z *zipWriter) close(t testing.TB) {
	if err := z.w.Close(); err != nil {
		t.Fatal(err)
	}
}

func colorOf(i int) color.RGBA {
	return color.RGBA{uint8(40 * i), uint8(255 - 40*i), uint8(10 * i), 255}
}
