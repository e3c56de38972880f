package npy

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		shape []int
		data  any
	}{
		{[]int{2, 3}, []float64{1, 2, 3, 4, 5, math.Inf(-1)}},
		{[]int{3}, []float32{1.5, -2, 0}},
		{[]int{2, 2}, []int64{1, -2, 3, 1 << 40}},
		{[]int{4}, []int32{0, 1, 2, -3}},
		{[]int{2}, []uint8{7, 255}},
		{[]int{3}, []bool{true, false, true}},
		{[]int{}, []float64{42}},
		{[]int{0, 5}, []float64{}},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		if err := Write(&buf, c.shape, c.data); err != nil {
			t.Fatal(err)
		}
		if buf.Len()%64 != 0 && reflect.ValueOf(c.data).Len() == 0 {
			t.Errorf("header not padded to 64 bytes")
		}
		for _, size := range []int64{int64(buf.Len()), -1} {
			a, err := Read(bytes.NewReader(buf.Bytes()), size)
			if err != nil {
				t.Fatalf("%v: %v", c.shape, err)
			}
			if !reflect.DeepEqual(a.Shape, c.shape) || !reflect.DeepEqual(a.Data, c.data) {
				t.Errorf("round trip %v: got %v %v", c.shape, a.Shape, a.Data)
			}
		}
	}
}

// TestNumpyFiles reads files written by numpy (scoring/testdata/gen_reference.py
// writes them; these small ones are generated here from numpy's known byte layout).
func TestNumpyHeaders(t *testing.T) {
	// Bytes of np.save(f, np.arange(3, dtype='<i8')) from numpy 1.24.2.
	hdr := "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }"
	raw := append([]byte("\x93NUMPY\x01\x00"), 0, 0)
	pad := 64 - (10+len(hdr)+1)%64
	h := hdr + string(bytes.Repeat([]byte(" "), pad)) + "\n"
	raw[8] = byte(len(h))
	raw = append(raw, h...)
	for i := 0; i < 3; i++ {
		raw = append(raw, byte(i), 0, 0, 0, 0, 0, 0, 0)
	}
	a, err := Read(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Data, []int64{0, 1, 2}) {
		t.Fatalf("got %v", a.Data)
	}
	// Version 3.0 uses the same layout as 2.0 with a UTF-8 header.
	v3 := append([]byte("\x93NUMPY\x03\x00"), byte(len(h)), 0, 0, 0)
	v3 = append(v3, h...)
	v3 = append(v3, raw[10+len(h):]...)
	if a, err := Read(bytes.NewReader(v3), int64(len(v3))); err != nil || !reflect.DeepEqual(a.Data, []int64{0, 1, 2}) {
		t.Fatalf("v3: %v %v", a, err)
	}
}

// TestNumpyLayouts reads Fortran-order and big-endian files written by
// numpy (testdata/gen_layouts.py): the arrays come back in C order and
// native byte order, element (i, j, k) = 100 i + 10 j + k as in numpy.
func TestNumpyLayouts(t *testing.T) {
	want3 := make([]float64, 0, 24)
	for i := range 2 {
		for j := range 3 {
			for k := range 4 {
				want3 = append(want3, float64(100*i+10*j+k))
			}
		}
	}
	for _, c := range []struct {
		file  string
		shape []int
		descr string
		want  []float64
	}{
		{"fortran_f8.npy", []int{2, 3, 4}, "<f8", want3},
		{"fortran_i4.npy", []int{3, 4}, "<i4", want3[12:]},
		{"bigendian_f4.npy", []int{2, 3, 4}, "<f4", want3},
	} {
		a, err := ReadFile(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a.Shape, c.shape) || a.Descr != c.descr || !reflect.DeepEqual(a.Float64(), c.want) {
			t.Errorf("%s: got shape %v %s %v, want %v %s %v", c.file, a.Shape, a.Descr, a.Float64(), c.shape, c.descr, c.want)
		}
	}
}

// TestFortranToC checks the reordering against the definition on a 4-d
// shape with a unit axis: C offset of (i,j,k,l) holds the Fortran one.
func TestFortranToC(t *testing.T) {
	shape := []int{3, 1, 4, 2}
	n := 24
	src := make([]int, n)
	for i := range src {
		src[i] = i
	}
	got := fortranToC(src, shape)
	c := 0
	for i := range 3 {
		for j := range 1 {
			for k := range 4 {
				for l := range 2 {
					f := i + 3*(j+1*(k+4*l))
					if got[c] != f {
						t.Fatalf("C offset %d (%d,%d,%d,%d): got %d, want Fortran offset %d", c, i, j, k, l, got[c], f)
					}
					c++
				}
			}
		}
	}
}

func TestReadErrors(t *testing.T) {
	mk := func(dict string, data []byte) []byte {
		b := append([]byte("\x93NUMPY\x01\x00"), byte(len(dict)), byte(len(dict)>>8))
		return append(append(b, dict...), data...)
	}
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"magic", []byte("hello world"), ErrFormat},
		{"short", []byte("\x93NUM"), ErrFormat},
		{"float16", mk("{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }", make([]byte, 2)), ErrUnsupported},
		{"object", mk("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", make([]byte, 8)), ErrUnsupported},
		{"huge", mk("{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000,), }", make([]byte, 8)), ErrFormat},
		{"overflow", mk("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904), }", nil), ErrFormat},
		{"truncated", mk("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", make([]byte, 8)), ErrFormat},
		{"nokey", mk("{'descr': '<f8', 'shape': (2,), }", make([]byte, 16)), ErrFormat},
		{"version", []byte("\x93NUMPY\x09\x00\x00\x00"), ErrUnsupported},
	}
	for _, c := range cases {
		for _, size := range []int64{int64(len(c.in)), -1} {
			_, err := Read(bytes.NewReader(c.in), size)
			if !errors.Is(err, c.want) {
				t.Errorf("%s (size %d): got %v, want %v", c.name, size, err, c.want)
			}
		}
	}
}

func TestFileAndNPZ(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.npy")
	if err := WriteFile(p, []int{2, 2}, []float32{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	a, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Float64(); !reflect.DeepEqual(got, []float64{1, 2, 3, 4}) {
		t.Fatalf("got %v", got)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.npy")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	// An .npz written by numpy 1.24.2 (np.savez(f, x=np.arange(3.0), k=np.array([1, 0], '<i4'))),
	// committed by gen_reference.py.
	z, err := ReadNPZ(filepath.Join("..", "..", "scoring", "testdata", "small.npz"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(z["x"].Data, []float64{0, 1, 2}) || !reflect.DeepEqual(z["k"].Data, []int32{1, 0}) {
		t.Fatalf("npz: %v %v", z["x"], z["k"])
	}
	k, err := z["k"].Ints()
	if err != nil || !reflect.DeepEqual(k, []int{1, 0}) {
		t.Fatalf("Ints: %v %v", k, err)
	}
	if _, err := (&Array{Shape: []int{1}, Data: []float64{0.5}}).Ints(); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("non-integral Ints: %v", err)
	}
}

// FuzzRead asserts that Read never panics and that whatever it accepts
// survives a Write/Read round trip unchanged.
func FuzzRead(f *testing.F) {
	for _, d := range []any{[]float64{1, 2}, []float32{3}, []int64{-1}, []int32{5, 6}, []uint8{1}, []bool{true}} {
		var buf bytes.Buffer
		Write(&buf, []int{reflect.ValueOf(d).Len()}, d)
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := Read(bytes.NewReader(in), int64(len(in)))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := Write(&buf, a.Shape, a.Data); err != nil {
			t.Fatal(err)
		}
		b, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if !reflect.DeepEqual(a.Shape, b.Shape) || a.Descr != b.Descr || !sameBits(a.Data, b.Data) {
			t.Fatalf("round trip changed the array: %v → %v", a, b)
		}
	})
}

// sameBits compares float data bitwise so NaN payloads count as equal.
func sameBits(x, y any) bool {
	switch xv := x.(type) {
	case []float64:
		yv := y.([]float64)
		for i := range xv {
			if math.Float64bits(xv[i]) != math.Float64bits(yv[i]) {
				return false
			}
		}
		return len(xv) == len(yv)
	case []float32:
		yv := y.([]float32)
		for i := range xv {
			if math.Float32bits(xv[i]) != math.Float32bits(yv[i]) {
				return false
			}
		}
		return len(xv) == len(yv)
	}
	return reflect.DeepEqual(x, y)
}
