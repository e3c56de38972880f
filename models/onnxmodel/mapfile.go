package onnxmodel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/cortexbench/cortexbench/models"
)

// mapFile maps the file at path read-only, after checking its size
// against limit; unmap releases it. The mapping costs the process no heap
// and only the pages validation reads (a junk file is refused after its
// first few bytes), and they are the page cache's to reclaim.
func mapFile(path string, limit int64) (data []byte, unmap func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open model: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("stat model: %w", err)
	}
	if st.Size() > limit {
		return nil, nil, tooLarge(path, st.Size(), limit)
	}
	if st.Size() == 0 {
		return []byte{}, func() {}, nil
	}
	data, err = syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("map model file: %w", err)
	}
	return data, func() { _ = syscall.Munmap(data) }, nil
}

// ValidateFile validates the file at path like the package function
// ValidateFile, waiting for a free validation slot until ctx ends (then
// ErrBusy), but without reading the file into memory: it is hashed by
// streaming it, mapped for the checks (which touch the encoding's
// structure, not the tensors' bytes), decoded without the raw_data of
// tensors over 256 KiB, and a FileRuntime loads it from path. So a model
// costs this process little more than its graph, whatever its weights.
// The file must not change until it returns. The result's Data is nil
// (the bytes stay on disk) and its Model lacks those raw_data; everything
// else is as ValidateFile's.
func (v *Validator) ValidateFile(ctx context.Context, path string) (*Checked, error) {
	if err := v.acquire(ctx); err != nil {
		return nil, err
	}
	defer func() { <-v.sem }()
	data, unmap, err := mapFile(path, v.cfg.MaxFileBytes)
	if err != nil {
		return nil, err
	}
	defer unmap()
	sum, err := hashFile(path)
	if err != nil {
		return nil, err
	}
	c, err := validate(data, path, sum, v.cfg, v.rt)
	var ve *models.ValidationError
	if errors.As(err, &ve) {
		ve.File = path
	}
	if c != nil {
		c.Data = nil
	}
	return c, err
}

// hashFile returns the hex sha256 of the file at path, read in chunks
// (page cache pages read this way are not this process's memory, as
// mapped pages it touches are).
func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open model: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, f, make([]byte, 1<<20)); err != nil {
		return "", fmt.Errorf("hash model: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
