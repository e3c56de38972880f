package submissions

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Upload is a model file staged on disk for Submit: written while it was
// received, hashed on the way (StageUpload), never held whole in memory. The
// caller removes it (Remove) whatever Submit answers; the stored copy is
// the model store's.
type Upload struct {
	// Path is the staged file, in a private directory.
	Path string
	// SHA256 is the hex sha256 of its bytes, computed while staging.
	SHA256 string
	// Size is its length in bytes.
	Size int64
}

// Remove deletes the staged file.
func (u Upload) Remove() error {
	if u.Path == "" {
		return nil
	}
	if err := os.Remove(u.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// StagingDir creates (when missing) the private directory uploads are
// staged in: dir itself when not empty, made 0700 and refused when others
// may enter it; a new 0700 directory under the system's temporary
// directory otherwise.
func StagingDir(dir string) (string, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "cortexbench-uploads-")
		if err != nil {
			return "", fmt.Errorf("upload staging directory: %w", err)
		}
		return d, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("upload staging directory: %w", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("upload staging directory: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("upload staging directory %s is %v: others may read it; make it private (chmod 700) or choose another", dir, st.Mode().Perm())
	}
	return filepath.Clean(dir), nil
}

// StageUpload copies r to a new file in dir (a directory from StagingDir) while
// hashing it, refusing more than limit bytes with ETOOLARGE. On any error
// nothing is left in dir.
func StageUpload(dir string, r io.Reader, limit int64) (Upload, error) {
	f, err := os.CreateTemp(dir, "upload-*.onnx")
	if err != nil {
		return Upload{}, fmt.Errorf("stage upload: %w", err)
	}
	up := Upload{Path: f.Name()}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, limit+1))
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("stage upload: %w", cerr)
	}
	if err == nil && n > limit {
		err = Errorf(ETOOLARGE, "the upload is over the limit of %d bytes: submit a smaller model", limit)
	}
	if err != nil {
		_ = up.Remove()
		return Upload{}, err
	}
	up.SHA256, up.Size = hex.EncodeToString(h.Sum(nil)), n
	return up, nil
}
