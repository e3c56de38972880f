package models

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"
)

// Registry keeps model entries in a BlobStore:
//
//	models/<file sha256>.onnx  the ONNX file, stored once per file
//	models/<entry id>.json     an entry's Metadata, written once
//	models/index.json          the sorted list of entry ids
//
// An entry is (file, preprocessing spec); its id is EntryIDFor(file, spec, declared commitments), EntryID(file, spec) without any.
// Add writes the file, the index, then the metadata: an entry is
// registered once its metadata exists, so a failed Add registers nothing.
// Adding an entry that exists changes nothing: the first Metadata stays
// (name, version, ...), so no later submitter rewrites what an earlier
// score was computed with. Reading an entry checks that its id matches its
// file and spec, reading a file that its bytes match its sha256.
//
// Entries written before entries existed (legacy stores) have no File and
// the file's sha256 as id; they are read with File = ID and keep that id.
//
// The index is read-modified-written, and "written once" checked before
// writing, without locking: one writer at a time (the CLI, or the
// submissions service, which serialises its adds).
type Registry struct {
	Store BlobStore
}

// FileKey is the key of the ONNX file with the given sha256 in the store:
// the one place the layout above is spelled out for files.
func FileKey(fileSHA256 string) string { return "models/" + fileSHA256 + ".onnx" }

// MetadataKey is the key of entry id's Metadata.
func MetadataKey(id string) string { return "models/" + id + ".json" }

// indexKey is the key of the sorted list of ids.
const indexKey = "models/index.json"

// ErrCorrupt is wrapped by the errors for a stored entry or file whose
// content does not match its key.
var ErrCorrupt = errors.New("stored model object does not match its key")

// Add registers the entry m (m.File and m.Spec set; m.ID is computed, and
// must be EntryIDFor(m.File, m.Spec, m.Commitments) when given) and stores file, the ONNX
// bytes whose sha256 is m.File, unless that file is stored already.
//
// When the entry exists, nothing is written: Add returns the stored
// Metadata and created false (the caller says "already registered as
// <name>"). Otherwise it returns m as stored and created true.
func (r *Registry) Add(ctx context.Context, m Metadata, file io.Reader) (stored Metadata, created bool, err error) {
	if !IsSHA256Hex(m.File) {
		return m, false, fmt.Errorf("add model: file hash %q must be 64 lowercase hex digits (the sha256 of the ONNX file)", m.File)
	}
	m.Spec = m.Spec.Canonical()
	if err := CheckCommitments(m.Commitments); err != nil {
		return m, false, fmt.Errorf("add model: %w", err)
	}
	id := EntryIDFor(m.File, m.Spec, m.Commitments)
	if m.ID != "" && m.ID != id {
		return m, false, fmt.Errorf("add model: id %s is not the entry id %s of file %s with spec %s", m.ID, id, m.File, m.Spec)
	}
	m.ID = id
	old, err := r.Get(ctx, id)
	if err == nil {
		return old, false, nil
	}
	if !IsNotFound(err) {
		return m, false, fmt.Errorf("add model %s: %w", id, err)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, false, fmt.Errorf("add model %s: %w", id, err)
	}
	// The file, then the index, then the metadata: the metadata is the
	// commit point. A write that fails (a full disk, issue 15 finding 5)
	// leaves at most a stored file and an index line without metadata,
	// which Get and List treat as not registered, and which the next Add
	// of the entry completes.
	if err := r.putFile(ctx, m.File, file); err != nil {
		return m, false, fmt.Errorf("add model %s: %w", id, err)
	}
	if err := r.index(ctx, id); err != nil {
		return m, false, fmt.Errorf("add model %s: index: %w", id, err)
	}
	if err := r.Store.Put(ctx, MetadataKey(id), bytes.NewReader(data)); err != nil {
		return m, false, fmt.Errorf("add model %s: %w", id, err)
	}
	return m, true, nil
}

// index adds id to the index unless it is there.
func (r *Registry) index(ctx context.Context, id string) error {
	ids, err := r.ids(ctx)
	if err != nil {
		return err
	}
	i := sort.SearchStrings(ids, id)
	if i < len(ids) && ids[i] == id {
		return nil
	}
	ids = append(ids[:i], append([]string{id}, ids[i:]...)...)
	data, _ := json.Marshal(ids)
	return r.Store.Put(ctx, indexKey, bytes.NewReader(data))
}

// putFile stores the ONNX file under its sha256 unless it is there: a
// content-addressed object never changes. The bytes are hashed while they
// stream to the store; bytes that do not hash to sum are an error.
func (r *Registry) putFile(ctx context.Context, sum string, file io.Reader) error {
	rc, err := r.Store.Get(ctx, FileKey(sum))
	if err == nil {
		rc.Close()
		return nil
	}
	if !IsNotFound(err) {
		return err
	}
	h := sha256.New()
	if err := r.Store.Put(ctx, FileKey(sum), io.TeeReader(file, h)); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return fmt.Errorf("%w: the bytes stored at %s hash to %s, not %s", ErrCorrupt, FileKey(sum), got, sum)
	}
	return nil
}

func (r *Registry) ids(ctx context.Context) ([]string, error) {
	rc, err := r.Store.Get(ctx, indexKey)
	if IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var ids []string
	if err := json.NewDecoder(rc).Decode(&ids); err != nil {
		return nil, fmt.Errorf("read model index: %w", err)
	}
	sort.Strings(ids)
	return ids, nil
}

// Get returns the metadata of entry id; ErrNotFound when absent. The
// stored metadata must be the entry's: its ID is id and (unless legacy,
// without File) EntryIDFor(File, Spec, Commitments) is id; otherwise the error wraps
// ErrCorrupt and names the object.
func (r *Registry) Get(ctx context.Context, id string) (Metadata, error) {
	var m Metadata
	if !IsSHA256Hex(id) {
		return m, fmt.Errorf("get model %q: %w (a model id is 64 lowercase hex digits)", id, ErrNotFound)
	}
	rc, err := r.Store.Get(ctx, MetadataKey(id))
	if err != nil {
		return m, fmt.Errorf("get model %s: %w", id, err)
	}
	defer rc.Close()
	if err := json.NewDecoder(rc).Decode(&m); err != nil {
		return m, fmt.Errorf("get model %s: decode metadata %s: %w", id, MetadataKey(id), err)
	}
	if m.ID != id {
		return m, fmt.Errorf("get model %s: %w: %s says its id is %q", id, ErrCorrupt, MetadataKey(id), m.ID)
	}
	if m.File == "" { // legacy: the id was the file's sha256
		m.File = m.ID
		return m, nil
	}
	if want := EntryIDFor(m.File, m.Spec, m.Commitments); want != id {
		return m, fmt.Errorf("get model %s: %w: %s names file %s, spec %s and commitments %q, whose entry id is %s", id, ErrCorrupt, MetadataKey(id), m.File, m.Spec, CommitmentsString(m.Commitments), want)
	}
	return m, nil
}

// Description is what an entry's owner may change about it (cortexbench
// edit, PATCH /api/v1/models/{id}): words about the model, never what
// its scores were computed with (file, spec, commitments) nor its id.
type Description struct {
	Name, Version, Family, TrainingData string
}

// Describe rewrites entry id's descriptive fields with d, keeping every
// other field (so the id still matches its file and spec), and returns the
// stored metadata; ErrNotFound when the entry is absent. The registry
// database's record of the entry changes with it (submissions.Service),
// so that 'models list', the API and the page read one name (issue 17,
// finding 3).
func (r *Registry) Describe(ctx context.Context, id string, d Description) (Metadata, error) {
	m, err := r.Get(ctx, id)
	if err != nil {
		return m, err
	}
	m.Name, m.Version, m.Family, m.TrainingData = d.Name, d.Version, d.Family, d.TrainingData
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, fmt.Errorf("describe model %s: %w", id, err)
	}
	if err := r.Store.Put(ctx, MetadataKey(id), bytes.NewReader(data)); err != nil {
		return m, fmt.Errorf("describe model %s: %w", id, err)
	}
	return m, nil
}

// OpenFile opens the ONNX file with the given sha256. The reader hashes
// what it reads and returns an error wrapping ErrCorrupt (naming the
// object) at the end instead of io.EOF when the bytes do not match.
func (r *Registry) OpenFile(ctx context.Context, fileSHA256 string) (io.ReadCloser, error) {
	if !IsSHA256Hex(fileSHA256) {
		return nil, fmt.Errorf("model file %q: %w (a file hash is 64 lowercase hex digits)", fileSHA256, ErrNotFound)
	}
	rc, err := r.Store.Get(ctx, FileKey(fileSHA256))
	if err != nil {
		return nil, fmt.Errorf("model file %s: %w", fileSHA256, err)
	}
	return &verifyingReader{rc: rc, h: sha256.New(), want: fileSHA256}, nil
}

type verifyingReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	want string
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			return n, fmt.Errorf("%w: %s hashes to %s, not %s", ErrCorrupt, FileKey(v.want), got, v.want)
		}
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.rc.Close() }

// File reads the ONNX file with the given sha256, checking its hash.
func (r *Registry) File(ctx context.Context, fileSHA256 string) ([]byte, error) {
	rc, err := r.OpenFile(ctx, fileSHA256)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("model file %s: %w", fileSHA256, err)
	}
	return data, nil
}

// List returns every registered entry, sorted by name then id. An id in
// the index without metadata is an Add that failed before its commit
// point (see Add): not registered, so not listed.
func (r *Registry) List(ctx context.Context) ([]Metadata, error) {
	ids, err := r.ids(ctx)
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	out := make([]Metadata, 0, len(ids))
	for _, id := range ids {
		m, err := r.Get(ctx, id)
		if IsSHA256Hex(id) && IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list models: %w", err)
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// EntriesOf returns the entries of the ONNX file with the given sha256
// (one per preprocessing spec it was registered with), by id.
func (r *Registry) EntriesOf(ctx context.Context, fileSHA256 string) ([]Metadata, error) {
	all, err := r.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []Metadata
	for _, m := range all {
		if m.File == fileSHA256 {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
