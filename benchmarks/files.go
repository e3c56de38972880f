package benchmarks

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"image"
	_ "image/jpeg" // stimuli may be JPEG
	_ "image/png"  // or PNG
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cortexbench/cortexbench/storage/npy"
)

// Limits on untrusted input.
const (
	maxFileBytes   = 2 << 30 // one data file
	maxImagePixels = 64 << 20
	maxImageSide   = 16384
)

// source reads a manifest's files through an os.Root, so that no path,
// symlinks included, reaches outside the manifest's folder. Each file is
// read once and kept with its hash until the import ends.
type source struct {
	root  *os.Root
	files map[string]*dataFile
}

type dataFile struct {
	File
	data []byte // nil for a streamed .npy (readArray): reopened to store it
	// reopen opens a streamed file again; the reader fails at its end if
	// the content no longer has the hash it was read with.
	reopen func() (io.ReadCloser, error)
}

func newSource(dir string) (*source, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open manifest folder %s: %w", dir, err)
	}
	return &source{root: root, files: map[string]*dataFile{}}, nil
}

func (s *source) Close() error { return s.root.Close() }

// read returns the content of the file at p (slash-separated, relative).
func (s *source) read(p string) (*dataFile, error) {
	if f, ok := s.files[p]; ok && f.data != nil {
		return f, nil
	} // a streamed .npy wanted whole is read again
	if err := checkRelPath(p); err != nil {
		return nil, invalid(p, "%v", err)
	}
	f, err := s.root.Open(filepath.FromSlash(p))
	if err != nil {
		return nil, invalid(p, "%s", openProblem(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, invalid(p, "%s", openProblem(err))
	}
	if st.IsDir() {
		return nil, invalid(p, "is a folder, want a file")
	}
	if st.Size() > maxFileBytes {
		return nil, invalid(p, "is %d bytes, more than the %d allowed", st.Size(), int64(maxFileBytes))
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	sum := sha256.Sum256(data)
	df := &dataFile{File: File{Path: p, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}, data: data}
	s.files[p] = df
	return df, nil
}

// openFile opens p for reading, refusing folders and files over the size
// limit.
func (s *source) openFile(p string) (*os.File, int64, error) {
	if err := checkRelPath(p); err != nil {
		return nil, 0, invalid(p, "%v", err)
	}
	f, err := s.root.Open(filepath.FromSlash(p))
	if err != nil {
		return nil, 0, invalid(p, "%s", openProblem(err))
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, invalid(p, "%s", openProblem(err))
	}
	if st.IsDir() {
		f.Close()
		return nil, 0, invalid(p, "is a folder, want a file")
	}
	if st.Size() > maxFileBytes {
		f.Close()
		return nil, 0, invalid(p, "is %d bytes, more than the %d allowed", st.Size(), int64(maxFileBytes))
	}
	return f, st.Size(), nil
}

// streamNPY decodes the .npy file p while hashing it, holding only the
// decoded array (and a 1 MiB buffer), and records it as read.
func (s *source) streamNPY(p string) (*dataFile, *npy.Array, error) {
	f, size, err := s.openFile(p)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	h := sha256.New()
	cr := &countReader{r: io.TeeReader(io.LimitReader(f, maxFileBytes+1), h)}
	a, err := npy.Read(bufio.NewReaderSize(cr, 1<<16), size)
	if err != nil {
		return nil, nil, invalid(p, "not a readable .npy array: %v", err)
	}
	// bytes after the array (the bufio reader's read-ahead included)
	// belong to the file and its hash
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", p, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	df := &dataFile{File: File{Path: p, SHA256: sum, Size: cr.n}}
	df.reopen = func() (io.ReadCloser, error) {
		f, _, err := s.openFile(p)
		if err != nil {
			return nil, err
		}
		return &hashCheck{f: f, h: sha256.New(), want: sum, path: p}, nil
	}
	s.files[p] = df
	return df, a, nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// hashCheck reads a streamed file again and fails at its end if the
// content changed since it was read (so a changed file is never stored
// under the old hash).
type hashCheck struct {
	f    *os.File
	h    hash.Hash
	want string
	path string
}

func (c *hashCheck) Read(b []byte) (int, error) {
	n, err := c.f.Read(b)
	c.h.Write(b[:n])
	if err == io.EOF && hex.EncodeToString(c.h.Sum(nil)) != c.want {
		return n, fmt.Errorf("%s changed while it was being imported; import it again", c.path)
	}
	return n, err
}

func (c *hashCheck) Close() error { return c.f.Close() }

// readDir lists a folder's entries by name.
func (s *source) readDir(p string) ([]fs.DirEntry, error) {
	if err := checkRelPath(p); err != nil {
		return nil, invalid(p, "%v", err)
	}
	f, err := s.root.Open(filepath.FromSlash(p))
	if err != nil {
		return nil, invalid(p, "%s", openProblem(err))
	}
	defer f.Close()
	ents, err := f.ReadDir(-1)
	if err != nil {
		return nil, invalid(p, "cannot list the folder: %v", errors.Unwrap(err))
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return ents, nil
}

func openProblem(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "file not found"
	case strings.Contains(err.Error(), "escapes"):
		return "path leaves the manifest's folder (through a symlink or '..'); copy the file into the folder"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// readArray decodes a .npy file or a .npz member as float64. A .npy file
// not read before is streamed: decoded and hashed as it is read, never
// held whole as bytes (a response matrix of a whole-brain data set is
// hundreds of MB), and read again when the benchmark's files are stored.
func (s *source) readArray(spec ArraySpec) (Array, []float64, error) {
	if _, done := s.files[spec.File]; !done && spec.Key == "" {
		df, a, err := s.streamNPY(spec.File)
		if err != nil {
			return Array{}, nil, err
		}
		return Array{File: df.File, Key: spec.Key, Shape: a.Shape, SessionMean: spec.Sessions == "mean", Form: spec.Form}, a.Float64(), nil
	}
	f, err := s.read(spec.File)
	if err != nil {
		return Array{}, nil, err
	}
	a, err := decodeArray(f.data, spec.File, spec.Key)
	if err != nil {
		return Array{}, nil, err
	}
	return Array{File: f.File, Key: spec.Key, Shape: a.Shape, SessionMean: spec.Sessions == "mean", Form: spec.Form}, a.Float64(), nil
}

func decodeArray(data []byte, name, key string) (*npy.Array, error) {
	if key == "" {
		a, err := npy.Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, invalid(name, "not a readable .npy array: %v", err)
		}
		return a, nil
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, invalid(name, "not a readable .npz archive: %v", err)
	}
	var keys []string
	for _, zf := range zr.File {
		k := strings.TrimSuffix(zf.Name, ".npy")
		if k != key {
			keys = append(keys, k)
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, invalid(name, "member %s: %v", zf.Name, err)
		}
		defer rc.Close()
		// The size in the zip directory is the archive's claim, not a
		// fact: read with an unknown size so memory grows only with bytes
		// that actually arrive.
		a, err := npy.Read(rc, -1)
		if err != nil {
			return nil, invalid(name, "member %s: not a readable .npy array: %v", zf.Name, err)
		}
		return a, nil
	}
	if len(keys) == 0 {
		return nil, invalid(name, "has no member %q (the archive is empty)", key)
	}
	return nil, invalid(name, "has no member %q (members: %s)", key, strings.Join(keys, ", "))
}

func isImageName(n string) bool {
	switch strings.ToLower(path.Ext(n)) {
	case ".jpg", ".jpeg", ".png":
		return true
	}
	return false
}

// checkImage decodes one image fully: every stimulus must be usable.
func checkImage(data []byte) error {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("cannot decode the image (want JPEG or PNG): %v", err)
	}
	if format != "jpeg" && format != "png" {
		return fmt.Errorf("is %s, want JPEG or PNG", format)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxImageSide || cfg.Height > maxImageSide || cfg.Width*cfg.Height > maxImagePixels {
		return fmt.Errorf("image is %d×%d pixels, outside 1..%d per side", cfg.Width, cfg.Height, maxImageSide)
	}
	if _, _, err := image.Decode(bytes.NewReader(data)); err != nil {
		return fmt.Errorf("cannot decode the image: %v", err)
	}
	return nil
}

// readStimuli builds and validates a stimulus set: every image decodes,
// the order file names existing images, labels cover every image.
func (s *source) readStimuli(spec *StimuliSpec) (StimulusSet, error) {
	var set StimulusSet
	var order []string
	if spec.Order != "" {
		f, err := s.read(spec.Order)
		if err != nil {
			return set, err
		}
		seen := map[string]bool{}
		for i, line := range strings.Split(string(f.data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if seen[line] {
				return set, invalid(spec.Order, "line %d: %q is listed twice", i+1, line)
			}
			seen[line] = true
			order = append(order, line)
		}
		if len(order) == 0 {
			return set, invalid(spec.Order, "lists no images")
		}
	}
	if spec.Dir != "" {
		ents, err := s.readDir(spec.Dir)
		if err != nil {
			return set, err
		}
		names := map[string]bool{}
		var all []string
		for _, e := range ents {
			if !e.IsDir() && isImageName(e.Name()) {
				names[e.Name()] = true
				all = append(all, e.Name())
			}
		}
		if order == nil {
			order = all
		}
		for i, n := range order {
			if !names[n] {
				return set, invalid(path.Join(spec.Dir, n), "image listed in %s (entry %d) is missing from %s", spec.Order, i+1, spec.Dir)
			}
			p := path.Join(spec.Dir, n)
			f, err := s.read(p)
			if err != nil {
				return set, err
			}
			if err := checkImage(f.data); err != nil {
				return set, invalid(p, "%v", err)
			}
			file := f.File
			set.Stimuli = append(set.Stimuli, Stimulus{Name: n, File: &file})
		}
	} else {
		f, err := s.read(spec.Zip)
		if err != nil {
			return set, err
		}
		zr, err := zip.NewReader(bytes.NewReader(f.data), f.Size)
		if err != nil {
			return set, invalid(spec.Zip, "not a readable zip archive: %v", err)
		}
		members := map[string]*zip.File{}
		var all []string
		for _, zf := range zr.File {
			if strings.HasSuffix(zf.Name, "/") || strings.HasPrefix(zf.Name, "__MACOSX/") || !isImageName(zf.Name) {
				continue
			}
			base := path.Base(zf.Name)
			if members[base] != nil {
				return set, invalid(spec.Zip, "two members are named %s (in different folders); stimulus names must be unique", base)
			}
			members[base] = zf
			all = append(all, base)
		}
		if order == nil {
			order = all
		}
		file := f.File
		set.Zip = &file
		for i, n := range order {
			zf := members[n]
			if zf == nil {
				return set, invalid(spec.Zip, "image %q listed in %s (entry %d) is not in the archive", n, spec.Order, i+1)
			}
			if zf.UncompressedSize64 > 64<<20 {
				return set, invalid(spec.Zip, "member %s is larger than 64 MiB", zf.Name)
			}
			rc, err := zf.Open()
			if err != nil {
				return set, invalid(spec.Zip, "member %s: %v", zf.Name, err)
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return set, invalid(spec.Zip, "member %s: %v", zf.Name, err)
			}
			if err := checkImage(data); err != nil {
				return set, invalid(spec.Zip, "member %s: %v", zf.Name, err)
			}
			set.Stimuli = append(set.Stimuli, Stimulus{Name: n, Member: zf.Name})
		}
	}
	if len(set.Stimuli) == 0 {
		where := spec.Dir + spec.Zip
		return set, invalid(where, "contains no images (.jpg, .jpeg or .png)")
	}
	if spec.Labels != nil {
		if err := s.readLabels(spec.Labels, &set); err != nil {
			return set, err
		}
	}
	return set, nil
}

func (s *source) readLabels(spec *LabelsSpec, set *StimulusSet) error {
	f, err := s.read(spec.CSV)
	if err != nil {
		return err
	}
	// Spreadsheets often save UTF-8 with a byte-order mark.
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(f.data, []byte("\ufeff")))).ReadAll()
	if err != nil {
		return invalid(spec.CSV, "not a readable CSV file: %v", err)
	}
	if len(rows) < 1 {
		return invalid(spec.CSV, "is empty; want a header row and one row per image")
	}
	col, match := slices.Index(rows[0], spec.Column), -1
	if col < 0 {
		return invalid(spec.CSV, "has no column %q (columns: %s)", spec.Column, strings.Join(rows[0], ", "))
	}
	if spec.Match != "" {
		if match = slices.Index(rows[0], spec.Match); match < 0 {
			return invalid(spec.CSV, "has no column %q (columns: %s)", spec.Match, strings.Join(rows[0], ", "))
		}
	}
	rows = rows[1:]
	if len(rows) != len(set.Stimuli) {
		return invalid(spec.CSV, "has %d label rows but there are %d images", len(rows), len(set.Stimuli))
	}
	if match < 0 {
		for i := range set.Stimuli {
			set.Stimuli[i].Label = rows[i][col]
		}
	} else {
		byName := map[string]string{}
		for _, r := range rows {
			byName[r[match]] = r[col]
		}
		for i := range set.Stimuli {
			l, ok := byName[set.Stimuli[i].Name]
			if !ok {
				return invalid(spec.CSV, "has no row for image %s in column %q", set.Stimuli[i].Name, spec.Match)
			}
			set.Stimuli[i].Label = l
		}
	}
	set.LabelColumn = spec.Column
	return nil
}
