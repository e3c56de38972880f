package models

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
)

// Registry keeps added models in a BlobStore:
//
//	models/<id>.onnx   the file, id = hex sha256
//	models/<id>.json   its Metadata as JSON
//	models/index.json  the sorted list of ids
//
// The index is read-modified-written without locking: one writer at a
// time (the CLI, or the submissions worker). The registry database may
// replace this backing later.
type Registry struct {
	Store BlobStore
}

// FileKey is the key of model id's ONNX file in the store: the one place
// the layout above is spelled out for files.
func FileKey(id string) string { return "models/" + id + ".onnx" }

// metadataKey is the key of model id's Metadata.
func metadataKey(id string) string { return "models/" + id + ".json" }

// indexKey is the key of the sorted list of ids.
const indexKey = "models/index.json"

// Add stores the model file and its metadata; adding the same file again
// replaces its metadata.
func (r *Registry) Add(ctx context.Context, m Metadata, file io.Reader) error {
	if err := r.Store.Put(ctx, FileKey(m.ID), file); err != nil {
		return fmt.Errorf("add model %s: %w", m.ID, err)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("add model %s: %w", m.ID, err)
	}
	if err := r.Store.Put(ctx, metadataKey(m.ID), bytes.NewReader(data)); err != nil {
		return fmt.Errorf("add model %s: %w", m.ID, err)
	}
	ids, err := r.ids(ctx)
	if err != nil {
		return fmt.Errorf("add model %s: %w", m.ID, err)
	}
	i := sort.SearchStrings(ids, m.ID)
	if i < len(ids) && ids[i] == m.ID {
		return nil
	}
	ids = append(ids[:i], append([]string{m.ID}, ids[i:]...)...)
	data, _ = json.Marshal(ids)
	if err := r.Store.Put(ctx, indexKey, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("add model %s: index: %w", m.ID, err)
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

// Get returns the metadata of a model; ErrNotFound when absent.
func (r *Registry) Get(ctx context.Context, id string) (Metadata, error) {
	var m Metadata
	rc, err := r.Store.Get(ctx, metadataKey(id))
	if err != nil {
		return m, fmt.Errorf("get model %s: %w", id, err)
	}
	defer rc.Close()
	if err := json.NewDecoder(rc).Decode(&m); err != nil {
		return m, fmt.Errorf("get model %s: decode metadata: %w", id, err)
	}
	return m, nil
}

// File reads model id's ONNX file.
func (r *Registry) File(ctx context.Context, id string) ([]byte, error) {
	rc, err := r.Store.Get(ctx, FileKey(id))
	if err != nil {
		return nil, fmt.Errorf("model %s file: %w", id, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("model %s file: %w", id, err)
	}
	return data, nil
}

// List returns every registered model, sorted by name then id.
func (r *Registry) List(ctx context.Context) ([]Metadata, error) {
	ids, err := r.ids(ctx)
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	out := make([]Metadata, 0, len(ids))
	for _, id := range ids {
		m, err := r.Get(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("list models: %w", err)
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
