// Package npy reads and writes NumPy .npy files (format versions 1.0, 2.0
// and 3.0) and reads .npz archives (zip files of .npy members).
//
// The dtypes scoring needs are read: f8, f4, i8, i4 (either byte order),
// u1 and b1. Arrays are returned little-endian and in C order: a
// Fortran-order file (what np.save writes for a transposed array, X.T) is
// transposed on reading, so that element (i, j) means the same as in numpy.
//
// Untrusted input: the header's shape is checked against the number of
// bytes actually available (the file size when known) before any array is
// allocated, so a header claiming a huge shape cannot exhaust memory.
package npy

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

var (
	// ErrFormat reports a file that is not a well-formed .npy/.npz file.
	ErrFormat = errors.New("npy: malformed file")
	// ErrUnsupported reports a well-formed file this package does not read
	// (Fortran order, big-endian, or an unsupported dtype).
	ErrUnsupported = errors.New("npy: unsupported array")
)

var magic = []byte("\x93NUMPY")

// maxHeaderLen bounds the header so a corrupt length field cannot make the
// reader allocate much; numpy itself writes headers of a few hundred bytes.
const maxHeaderLen = 1 << 20

// Array is a decoded array. Data holds one of []float64, []float32, []int64,
// []int32, []uint8 or []bool according to Descr, in C order.
type Array struct {
	Shape []int
	Descr string
	Data  any
}

// Len returns the number of elements (the product of Shape).
func (a *Array) Len() int {
	n := 1
	for _, d := range a.Shape {
		n *= d
	}
	return n
}

// Float64 returns the data converted to float64 (a copy unless the array is
// already <f8, in which case the returned slice aliases Data).
func (a *Array) Float64() []float64 {
	switch d := a.Data.(type) {
	case []float64:
		return d
	case []float32:
		return convert[float32](d)
	case []int64:
		return convert[int64](d)
	case []int32:
		return convert[int32](d)
	case []uint8:
		return convert[uint8](d)
	case []bool:
		out := make([]float64, len(d))
		for i, v := range d {
			if v {
				out[i] = 1
			}
		}
		return out
	}
	panic("npy: Array with unknown Data type")
}

// Ints returns integer data as []int (for fold files); floating-point
// arrays are accepted only when every value is integral.
func (a *Array) Ints() ([]int, error) {
	f := a.Float64()
	out := make([]int, len(f))
	for i, v := range f {
		if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
			return nil, fmt.Errorf("%w: element %d is %v, want an integer", ErrUnsupported, i, v)
		}
		out[i] = int(v)
	}
	return out, nil
}

func convert[S float32 | int64 | int32 | uint8](s []S) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}

func itemSize(descr string) (int, error) {
	switch descr {
	case "<f8", "<i8":
		return 8, nil
	case "<f4", "<i4":
		return 4, nil
	case ">f8", ">i8":
		return 8, nil
	case ">f4", ">i4":
		return 4, nil
	case "|u1", "|b1", "<u1", "<b1":
		return 1, nil
	}
	return 0, fmt.Errorf("%w: dtype %q (want float64, float32, int64, int32, uint8 or bool: convert with arr.astype(np.float64))", ErrUnsupported, descr)
}

// ReadFile reads one .npy file, checking the header against the file size.
func ReadFile(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	a, err := Read(bufio.NewReaderSize(f, 1<<16), st.Size())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return a, nil
}

// Read decodes a .npy stream. size is the total number of bytes in the
// stream if known, or -1; when known, a shape larger than the remaining
// bytes is rejected before allocating, and when unknown the data buffer
// grows only as bytes actually arrive.
func Read(r io.Reader, size int64) (*Array, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("%w: short preamble: %v", ErrFormat, err)
	}
	if !bytes.Equal(pre[:6], magic) {
		return nil, fmt.Errorf("%w: not a .npy file (bad magic)", ErrFormat)
	}
	var hlen int
	used := int64(8)
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("%w: short header length: %v", ErrFormat, err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
		used += 2
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("%w: short header length: %v", ErrFormat, err)
		}
		h := binary.LittleEndian.Uint32(b[:])
		if h > maxHeaderLen {
			return nil, fmt.Errorf("%w: header length %d too large", ErrFormat, h)
		}
		hlen = int(h)
		used += 4
	default:
		return nil, fmt.Errorf("%w: format version %d.%d", ErrUnsupported, pre[6], pre[7])
	}
	if size >= 0 && int64(hlen) > size-used {
		return nil, fmt.Errorf("%w: header length %d exceeds file size %d", ErrFormat, hlen, size)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("%w: short header: %v", ErrFormat, err)
	}
	used += int64(hlen)
	descr, fortran, shape, err := parseHeader(string(hdr))
	if err != nil {
		return nil, err
	}
	isz, err := itemSize(descr)
	if err != nil {
		return nil, err
	}
	n := 1
	for _, d := range shape {
		if d != 0 && n > math.MaxInt64/isz/d {
			return nil, fmt.Errorf("%w: shape %v overflows", ErrFormat, shape)
		}
		n *= d
	}
	nbytes := int64(n) * int64(isz)
	if size >= 0 && nbytes > size-used {
		return nil, fmt.Errorf("%w: shape %v needs %d data bytes but the file has %d", ErrFormat, shape, nbytes, size-used)
	}
	a := &Array{Shape: shape, Descr: descr}
	// With a known size the check above bounds the allocation; otherwise
	// start small and let append grow as bytes actually arrive.
	capHint := n
	if size < 0 {
		capHint = min(n, 1<<16)
	}
	var order binary.ByteOrder = binary.LittleEndian
	if descr[0] == '>' {
		order = binary.BigEndian
		a.Descr = "<" + descr[1:]
	}
	switch a.Descr {
	case "<f8":
		a.Data, err = decode(r, n, capHint, 8, func(b []byte) float64 { return math.Float64frombits(order.Uint64(b)) })
	case "<f4":
		a.Data, err = decode(r, n, capHint, 4, func(b []byte) float32 { return math.Float32frombits(order.Uint32(b)) })
	case "<i8":
		a.Data, err = decode(r, n, capHint, 8, func(b []byte) int64 { return int64(order.Uint64(b)) })
	case "<i4":
		a.Data, err = decode(r, n, capHint, 4, func(b []byte) int32 { return int32(order.Uint32(b)) })
	case "|u1", "<u1":
		a.Descr = "|u1"
		a.Data, err = decode(r, n, capHint, 1, func(b []byte) uint8 { return b[0] })
	case "|b1", "<b1":
		a.Descr = "|b1"
		a.Data, err = decode(r, n, capHint, 1, func(b []byte) bool { return b[0] != 0 })
	}
	if err != nil {
		return nil, fmt.Errorf("%w: shape %v needs %d data bytes: %v", ErrFormat, shape, nbytes, err)
	}
	if fortran && len(shape) > 1 {
		switch d := a.Data.(type) {
		case []float64:
			a.Data = fortranToC(d, shape)
		case []float32:
			a.Data = fortranToC(d, shape)
		case []int64:
			a.Data = fortranToC(d, shape)
		case []int32:
			a.Data = fortranToC(d, shape)
		case []uint8:
			a.Data = fortranToC(d, shape)
		case []bool:
			a.Data = fortranToC(d, shape)
		}
	}
	return a, nil
}

// fortranToC reorders src, the elements of an array of the given shape in
// Fortran order (first index fastest), into C order (last index fastest).
func fortranToC[E any](src []E, shape []int) []E {
	dst := make([]E, len(src))
	if len(src) == 0 {
		return dst
	}
	nd := len(shape)
	stride := make([]int, nd) // Fortran strides, in elements
	stride[0] = 1
	for k := 1; k < nd; k++ {
		stride[k] = stride[k-1] * shape[k-1]
	}
	idx := make([]int, nd)
	off := 0
	last, ls := shape[nd-1], stride[nd-1]
	for i := 0; i < len(dst); i += last {
		// The last index runs fastest in C order: one strided row.
		row := dst[i : i+last]
		for j := range row {
			row[j] = src[off+j*ls]
		}
		// Advance the other indices as an odometer.
		for k := nd - 2; k >= 0; k-- {
			idx[k]++
			off += stride[k]
			if idx[k] < shape[k] {
				break
			}
			off -= idx[k] * stride[k]
			idx[k] = 0
		}
	}
	return dst
}

// decode reads n items of isz bytes through a small reusable buffer, so
// peak memory is the decoded array plus 1 MiB.
func decode[E any](r io.Reader, n, capHint, isz int, get func([]byte) E) ([]E, error) {
	out := make([]E, 0, capHint)
	buf := make([]byte, min(n*isz, 1<<20)/isz*isz+isz)
	for len(out) < n {
		k := min(n-len(out), len(buf)/isz)
		b := buf[:k*isz]
		if m, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("got %d of them: %v", len(out)*isz+m, err)
		}
		for i := 0; i < k; i++ {
			out = append(out, get(b[i*isz:]))
		}
	}
	return out, nil
}

// parseHeader parses numpy's header, a Python dict literal such as
// {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }.
func parseHeader(h string) (descr string, fortran bool, shape []int, err error) {
	s := strings.TrimSpace(h)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return "", false, nil, fmt.Errorf("%w: header is not a dict: %q", ErrFormat, trunc(h))
	}
	s = s[1 : len(s)-1]
	var haveDescr, haveFortran, haveShape bool
	for {
		s = strings.TrimLeft(s, " \t\n,")
		if s == "" {
			break
		}
		key, rest, ok := pyString(s)
		if !ok {
			return "", false, nil, fmt.Errorf("%w: bad header key in %q", ErrFormat, trunc(h))
		}
		rest = strings.TrimLeft(rest, " ")
		if !strings.HasPrefix(rest, ":") {
			return "", false, nil, fmt.Errorf("%w: missing ':' in header %q", ErrFormat, trunc(h))
		}
		rest = strings.TrimLeft(rest[1:], " ")
		switch key {
		case "descr":
			v, r2, ok := pyString(rest)
			if !ok {
				return "", false, nil, fmt.Errorf("%w: descr is not a simple dtype string (structured dtypes are not supported)", ErrUnsupported)
			}
			descr, rest, haveDescr = v, r2, true
		case "fortran_order":
			switch {
			case strings.HasPrefix(rest, "True"):
				fortran, rest = true, rest[4:]
			case strings.HasPrefix(rest, "False"):
				fortran, rest = false, rest[5:]
			default:
				return "", false, nil, fmt.Errorf("%w: bad fortran_order in %q", ErrFormat, trunc(h))
			}
			haveFortran = true
		case "shape":
			if !strings.HasPrefix(rest, "(") {
				return "", false, nil, fmt.Errorf("%w: bad shape in %q", ErrFormat, trunc(h))
			}
			end := strings.IndexByte(rest, ')')
			if end < 0 {
				return "", false, nil, fmt.Errorf("%w: unterminated shape in %q", ErrFormat, trunc(h))
			}
			shape = []int{}
			for _, f := range strings.Split(rest[1:end], ",") {
				f = strings.TrimSpace(f)
				if f == "" {
					continue
				}
				f = strings.TrimSuffix(f, "L")
				d, err := strconv.Atoi(f)
				if err != nil || d < 0 {
					return "", false, nil, fmt.Errorf("%w: bad dimension %q in shape", ErrFormat, f)
				}
				shape = append(shape, d)
			}
			rest, haveShape = rest[end+1:], true
		default:
			return "", false, nil, fmt.Errorf("%w: unknown header key %q", ErrFormat, key)
		}
		s = rest
	}
	if !haveDescr || !haveFortran || !haveShape {
		return "", false, nil, fmt.Errorf("%w: header lacks descr, fortran_order or shape: %q", ErrFormat, trunc(h))
	}
	return descr, fortran, shape, nil
}

func pyString(s string) (val, rest string, ok bool) {
	if s == "" || (s[0] != '\'' && s[0] != '"') {
		return "", s, false
	}
	end := strings.IndexByte(s[1:], s[0])
	if end < 0 {
		return "", s, false
	}
	return s[1 : 1+end], s[2+end:], true
}

func trunc(h string) string {
	if len(h) > 80 {
		return h[:80] + "…"
	}
	return h
}

// Write encodes data (one of []float64, []float32, []int64, []int32,
// []uint8, []bool) with the given shape as a version 1.0 .npy stream
// (2.0 if the header would not fit). It panics if len(data) does not match
// the shape: that is a programmer error.
func Write(w io.Writer, shape []int, data any) error {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic("npy: negative dimension")
		}
		n *= d
	}
	var descr string
	var raw []byte
	switch d := data.(type) {
	case []float64:
		descr, raw = "<f8", make([]byte, 8*len(d))
		for i, v := range d {
			binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(v))
		}
		checkLen(len(d), n)
	case []float32:
		descr, raw = "<f4", make([]byte, 4*len(d))
		for i, v := range d {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
		checkLen(len(d), n)
	case []int64:
		descr, raw = "<i8", make([]byte, 8*len(d))
		for i, v := range d {
			binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
		}
		checkLen(len(d), n)
	case []int32:
		descr, raw = "<i4", make([]byte, 4*len(d))
		for i, v := range d {
			binary.LittleEndian.PutUint32(raw[4*i:], uint32(v))
		}
		checkLen(len(d), n)
	case []uint8:
		descr, raw = "|u1", d
		checkLen(len(d), n)
	case []bool:
		descr, raw = "|b1", make([]byte, len(d))
		for i, v := range d {
			if v {
				raw[i] = 1
			}
		}
		checkLen(len(d), n)
	default:
		panic(fmt.Sprintf("npy: cannot write %T", data))
	}
	var sh strings.Builder
	sh.WriteByte('(')
	for i, d := range shape {
		if i > 0 {
			sh.WriteString(", ")
		}
		sh.WriteString(strconv.Itoa(d))
	}
	if len(shape) == 1 {
		sh.WriteByte(',')
	}
	sh.WriteByte(')')
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, sh.String())
	// numpy pads the header with spaces and a newline so the data starts
	// at a multiple of 64 bytes.
	ver, pre := byte(1), 10
	if len(dict)+1+pre > math.MaxUint16 {
		ver, pre = 2, 12
	}
	total := (pre + len(dict) + 1 + 63) / 64 * 64
	hdr := dict + strings.Repeat(" ", total-pre-len(dict)-1) + "\n"
	var head bytes.Buffer
	head.Write(magic)
	head.WriteByte(ver)
	head.WriteByte(0)
	if ver == 1 {
		binary.Write(&head, binary.LittleEndian, uint16(len(hdr)))
	} else {
		binary.Write(&head, binary.LittleEndian, uint32(len(hdr)))
	}
	head.WriteString(hdr)
	if _, err := w.Write(head.Bytes()); err != nil {
		return err
	}
	_, err := w.Write(raw)
	return err
}

func checkLen(got, want int) {
	if got != want {
		panic(fmt.Sprintf("npy: data has %d elements, shape needs %d", got, want))
	}
}

// WriteFile writes data to path as a .npy file.
func WriteFile(path string, shape []int, data any) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	if err := Write(bw, shape, data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// ReadNPZ reads every member of a .npz archive, keyed by name without the
// .npy suffix (as numpy.load does). Compressed (savez_compressed) archives
// are read too; member sizes come from the zip directory.
func ReadNPZ(path string) (map[string]*Array, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w: %w", path, ErrFormat, err)
	}
	defer zr.Close()
	out := make(map[string]*Array, len(zr.File))
	for _, f := range zr.File {
		if f.UncompressedSize64 > math.MaxInt64 {
			return nil, fmt.Errorf("read %s: member %s: %w: too large", path, f.Name, ErrFormat)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("read %s: member %s: %w", path, f.Name, err)
		}
		a, err := Read(bufio.NewReader(rc), int64(f.UncompressedSize64))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: member %s: %w", path, f.Name, err)
		}
		out[strings.TrimSuffix(f.Name, ".npy")] = a
	}
	return out, nil
}
