package embedded

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/johannesboyne/gofakes3"

	"github.com/cortexbench/cortexbench/storage/objstore"
)

// folder is a gofakes3.Backend over a directory:
//
//	<root>/<bucket>/<key>          the object's bytes, readable as a plain file
//	<root>/.meta/<bucket>/<sha256(key)>.json   its MD5 and user metadata
//	<root>/.tmp/<owner>/            uploads in progress (parts of
//	                                multipart uploads included), in a
//	                                directory per open folder named
//	                                after its process (tmp.go)
//
// Writes go to .tmp and are renamed into place under the lock, so a reader
// sees the old or the new object, never a torn one, and a conditional create
// is checked and committed atomically. Metadata is written after the object;
// if a crash separates the two, the stale record (size or mtime differ) is
// ignored and the MD5 recomputed. Bucket names cannot start with '.', so the
// two dot folders never collide with a bucket.
//
// Keys follow objstore.ValidateKey (no empty, "." or ".." segments), which
// also keeps them inside the bucket folder. A key cannot be both an object
// and a folder ("a" and "a/b"): the second write gets 400 InvalidArgument.
// Multipart parts are streamed to disk (multipart.go); uploads in progress
// do not survive a restart.
type folder struct {
	root string
	tmp  string // this folder's own directory under <root>/.tmp (tmp.go)
	mu   sync.RWMutex
	log  *slog.Logger // a line per write refused for lack of space (full.go); nil: slog.Default()

	uploadsMu  sync.Mutex
	uploads    map[gofakes3.UploadID]*upload
	lastUpload int64
}

var _ gofakes3.Backend = (*folder)(nil)

type metaRecord struct {
	Key     string            `json:"key"`
	Size    int64             `json:"size"`
	ModTime time.Time         `json:"mod_time"`
	MD5     string            `json:"md5"`
	Meta    map[string]string `json:"meta,omitempty"`
}

func newFolder(root string) (*folder, error) {
	for _, d := range []string{root, filepath.Join(root, ".meta"), filepath.Join(root, ".tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	// Other processes (CLI commands, workers, a server) may share the
	// folder and be writing to .tmp right now: only what is provably
	// abandoned is removed (issue 15, finding 9).
	cleanAbandoned(filepath.Join(root, ".tmp"), time.Now())
	tmp, err := os.MkdirTemp(filepath.Join(root, ".tmp"), ownerPrefix()+"*")
	if err != nil {
		return nil, fmt.Errorf("create this process's temporary folder: %w", err)
	}
	return &folder{root: root, tmp: tmp, uploads: map[gofakes3.UploadID]*upload{}}, nil
}

func (f *folder) bucketDir(bucket string) string { return filepath.Join(f.root, bucket) }

func (f *folder) objectPath(bucket, key string) string {
	return filepath.Join(f.root, bucket, filepath.FromSlash(key))
}

func (f *folder) metaPath(bucket, key string) string {
	sum := sha256.Sum256([]byte(key))
	h := hex.EncodeToString(sum[:])
	return filepath.Join(f.root, ".meta", bucket, h[:2], h+".json")
}

func checkKey(key string) error {
	if len(key) > objstore.MaxKeyLen {
		return gofakes3.ErrorMessagef(gofakes3.ErrKeyTooLong, "key is %d bytes long, the limit is %d", len(key), objstore.MaxKeyLen)
	}
	if err := objstore.ValidateKey(key); err != nil {
		return gofakes3.ErrorMessage(gofakes3.ErrInvalidArgument, err.Error())
	}
	return nil
}

func (f *folder) checkBucket(bucket string) error {
	st, err := os.Stat(f.bucketDir(bucket))
	if err != nil || !st.IsDir() || strings.HasPrefix(bucket, ".") {
		return gofakes3.BucketNotFound(bucket)
	}
	return nil
}

// ListBuckets implements gofakes3.Backend.
func (f *folder) ListBuckets() ([]gofakes3.BucketInfo, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	entries, err := os.ReadDir(f.root)
	if err != nil {
		return nil, err
	}
	var out []gofakes3.BucketInfo
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, gofakes3.BucketInfo{Name: e.Name(), CreationDate: gofakes3.NewContentTime(info.ModTime())})
	}
	return out, nil
}

// ListBucket implements gofakes3.Backend with real pagination: keys are
// collected from the folder, sorted and cut after the marker.
func (f *folder) ListBucket(bucket string, prefix *gofakes3.Prefix, page gofakes3.ListBucketPage) (*gofakes3.ObjectList, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if err := f.checkBucket(bucket); err != nil {
		return nil, err
	}
	if prefix == nil {
		prefix = &gofakes3.Prefix{}
	}
	// Walk only the deepest folder the prefix pins down.
	start := f.bucketDir(bucket)
	if prefix.HasPrefix {
		// Only a valid key folder: "../" must not walk out of the bucket.
		if i := strings.LastIndex(prefix.Prefix, "/"); i > 0 && objstore.ValidateKey(prefix.Prefix[:i]) == nil {
			start = f.objectPath(bucket, prefix.Prefix[:i])
		}
	}
	type entry struct {
		key  string
		info fs.FileInfo
	}
	var entries []entry
	base := f.bucketDir(bucket)
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(base, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if objstore.ValidateKey(key) != nil {
			return nil // not an object this backend could have written
		}
		if page.HasMarker && key <= page.Marker {
			return nil
		}
		if !prefix.Match(key, nil) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed while walking
		}
		entries = append(entries, entry{key, info})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list bucket %s: %w", bucket, err)
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })

	list := gofakes3.NewObjectList()
	var match gofakes3.PrefixMatch
	var lastPrefix string
	var count int64
	for i, e := range entries {
		prefix.Match(e.key, &match)
		if match.CommonPrefix {
			if match.MatchedPart == lastPrefix {
				continue
			}
			lastPrefix = match.MatchedPart
			list.AddPrefix(match.MatchedPart)
		} else {
			rec, err := f.loadMeta(bucket, e.key, e.info)
			if err != nil {
				return nil, err
			}
			list.Add(&gofakes3.Content{
				Key:          e.key,
				LastModified: gofakes3.NewContentTime(e.info.ModTime()),
				ETag:         `"` + rec.MD5 + `"`,
				Size:         e.info.Size(),
			})
		}
		count++
		if page.MaxKeys > 0 && count >= page.MaxKeys && i < len(entries)-1 {
			list.IsTruncated = true
			list.NextMarker = e.key
			if match.CommonPrefix {
				// Skip the rest of this common prefix on the next page.
				list.NextMarker = match.MatchedPart + "\U0010FFFF"
			}
			break
		}
	}
	return list, nil
}

// loadMeta returns the object's metadata record, recomputing the MD5 when the
// record is missing or stale. Call with the lock held (read is enough).
func (f *folder) loadMeta(bucket, key string, info fs.FileInfo) (metaRecord, error) {
	var rec metaRecord
	if data, err := os.ReadFile(f.metaPath(bucket, key)); err == nil && json.Unmarshal(data, &rec) == nil &&
		rec.Key == key && rec.Size == info.Size() && rec.ModTime.Equal(info.ModTime()) {
		return rec, nil
	}
	file, err := os.Open(f.objectPath(bucket, key))
	if err != nil {
		return rec, fmt.Errorf("hash %s/%s: %w", bucket, key, err)
	}
	defer file.Close()
	h := md5.New()
	if _, err := io.Copy(h, file); err != nil {
		return rec, fmt.Errorf("hash %s/%s: %w", bucket, key, err)
	}
	return metaRecord{Key: key, Size: info.Size(), ModTime: info.ModTime(), MD5: hex.EncodeToString(h.Sum(nil)), Meta: rec.Meta}, nil
}

func (f *folder) saveMeta(bucket string, rec metaRecord) error {
	p := f.metaPath(bucket, rec.Key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	tmp, err := f.createTemp("meta-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), p)
}

// CreateBucket implements gofakes3.Backend.
func (f *folder) CreateBucket(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.HasPrefix(name, ".") {
		return gofakes3.ErrorMessage(gofakes3.ErrInvalidBucketName, "bucket names cannot start with '.'")
	}
	if err := os.Mkdir(f.bucketDir(name), 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return gofakes3.ResourceError(gofakes3.ErrBucketAlreadyExists, name)
		}
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	return nil
}

// BucketExists implements gofakes3.Backend.
func (f *folder) BucketExists(name string) (bool, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.checkBucket(name) == nil, nil
}

// DeleteBucket implements gofakes3.Backend.
func (f *folder) DeleteBucket(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkBucket(name); err != nil {
		return err
	}
	entries, err := os.ReadDir(f.bucketDir(name))
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return gofakes3.ResourceError(gofakes3.ErrBucketNotEmpty, name)
	}
	os.RemoveAll(filepath.Join(f.root, ".meta", name))
	return os.Remove(f.bucketDir(name))
}

// ForceDeleteBucket implements gofakes3.Backend.
func (f *folder) ForceDeleteBucket(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkBucket(name); err != nil {
		return err
	}
	os.RemoveAll(filepath.Join(f.root, ".meta", name))
	return os.RemoveAll(f.bucketDir(name))
}

// open returns the object's file, its info and metadata; the caller closes
// the file.
func (f *folder) open(bucket, key string) (*os.File, fs.FileInfo, metaRecord, error) {
	if err := checkKey(key); err != nil {
		return nil, nil, metaRecord{}, err
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if err := f.checkBucket(bucket); err != nil {
		return nil, nil, metaRecord{}, err
	}
	file, err := os.Open(f.objectPath(bucket, key))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscallNotDir) {
			return nil, nil, metaRecord{}, gofakes3.KeyNotFound(key)
		}
		return nil, nil, metaRecord{}, fmt.Errorf("open %s/%s: %w", bucket, key, err)
	}
	info, err := file.Stat()
	if err == nil && !info.Mode().IsRegular() {
		file.Close()
		return nil, nil, metaRecord{}, gofakes3.KeyNotFound(key)
	}
	var rec metaRecord
	if err == nil {
		rec, err = f.loadMeta(bucket, key, info)
	}
	if err != nil {
		file.Close()
		return nil, nil, metaRecord{}, err
	}
	return file, info, rec, nil
}

func object(key string, info fs.FileInfo, rec metaRecord) (*gofakes3.Object, error) {
	hash, err := hex.DecodeString(rec.MD5)
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: bad md5: %w", key, err)
	}
	meta := map[string]string{}
	for k, v := range rec.Meta {
		meta[k] = v
	}
	meta["Last-Modified"] = info.ModTime().UTC().Format(http.TimeFormat)
	return &gofakes3.Object{Name: key, Metadata: meta, Size: info.Size(), Hash: hash}, nil
}

// HeadObject implements gofakes3.Backend.
func (f *folder) HeadObject(bucket, key string) (*gofakes3.Object, error) {
	file, info, rec, err := f.open(bucket, key)
	if err != nil {
		return nil, err
	}
	file.Close()
	obj, err := object(key, info, rec)
	if err != nil {
		return nil, err
	}
	obj.Contents = io.NopCloser(strings.NewReader(""))
	return obj, nil
}

// GetObject implements gofakes3.Backend. The open file keeps serving the
// version it opened even if the object is replaced meanwhile.
func (f *folder) GetObject(bucket, key string, rangeRequest *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	file, info, rec, err := f.open(bucket, key)
	if err != nil {
		return nil, err
	}
	obj, err := object(key, info, rec)
	if err != nil {
		file.Close()
		return nil, err
	}
	rng, err := rangeRequest.Range(info.Size())
	if err != nil {
		file.Close()
		return nil, err
	}
	obj.Range = rng
	obj.Contents = file
	if rng != nil {
		obj.Contents = struct {
			io.Reader
			io.Closer
		}{io.NewSectionReader(file, rng.Start, rng.Length), file}
	}
	return obj, nil
}

// PutObject implements gofakes3.Backend. The body is written to a temporary
// file first; the condition check and the rename happen under the write lock.
func (f *folder) PutObject(bucket, key string, meta map[string]string, input io.Reader, size int64, conditions *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
	var result gofakes3.PutObjectResult
	if err := checkKey(key); err != nil {
		return result, err
	}
	if ok, _ := f.BucketExists(bucket); !ok {
		return result, gofakes3.BucketNotFound(bucket)
	}
	tmp, sum, n, err := f.writeTemp(input)
	if err != nil {
		return result, f.writeFailed("put", bucket, key, fmt.Errorf("write body: %w", err), input)
	}
	defer os.Remove(tmp) // a no-op once renamed
	if size >= 0 && n != size {
		return result, gofakes3.ErrIncompleteBody
	}
	return result, f.commit(bucket, key, tmp, sum, meta, conditions)
}

// writeTemp copies r into a new file under .tmp and returns its path, MD5
// and length.
func (f *folder) writeTemp(r io.Reader) (path string, sum []byte, n int64, err error) {
	tmp, err := f.createTemp("object-*")
	if err != nil {
		return "", nil, 0, err
	}
	h := md5.New()
	n, err = io.Copy(io.MultiWriter(tmp, h), r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", nil, 0, err
	}
	return tmp.Name(), h.Sum(nil), n, nil
}

// commit moves a finished temporary file into place as bucket/key, checking
// conditions first, all under the write lock.
func (f *folder) commit(bucket, key, tmp string, sum []byte, meta map[string]string, conditions *gofakes3.PutConditions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkBucket(bucket); err != nil {
		return err
	}
	dst := f.objectPath(bucket, key)
	if conditions != nil {
		info := &gofakes3.ConditionalObjectInfo{}
		if st, err := os.Stat(dst); err == nil && st.Mode().IsRegular() {
			rec, err := f.loadMeta(bucket, key, st)
			if err != nil {
				return err
			}
			info.Exists = true
			info.Hash, _ = hex.DecodeString(rec.MD5)
		}
		if err := gofakes3.CheckPutConditions(conditions, info); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		if objstore.IsInsufficientStorage(err) {
			return f.writeFailed("put", bucket, key, err, nil)
		}
		return conflict(key, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		if objstore.IsInsufficientStorage(err) {
			return f.writeFailed("put", bucket, key, err, nil)
		}
		return conflict(key, err)
	}
	st, err := os.Stat(dst)
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", bucket, key, err)
	}
	// If the record cannot be saved the object is still in place, and its
	// MD5 is recomputed on demand.
	_ = f.saveMeta(bucket, metaRecord{Key: key, Size: st.Size(), ModTime: st.ModTime(), MD5: hex.EncodeToString(sum), Meta: meta})
	return nil
}

// conflict explains the one thing S3 allows that a folder cannot hold.
func conflict(key string, err error) error {
	if errors.Is(err, syscallNotDir) || errors.Is(err, fs.ErrExist) || errors.Is(err, syscallIsDir) {
		return gofakes3.ErrorMessagef(gofakes3.ErrInvalidArgument,
			"key %q conflicts with an existing object or folder: the embedded store cannot hold both \"a\" and \"a/b\"", key)
	}
	return fmt.Errorf("put %s: %w", key, err)
}

// DeleteObject implements gofakes3.Backend; deleting a missing key succeeds,
// as on S3.
func (f *folder) DeleteObject(bucket, key string) (gofakes3.ObjectDeleteResult, error) {
	var result gofakes3.ObjectDeleteResult
	if err := checkKey(key); err != nil {
		return result, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return result, f.deleteLocked(bucket, key)
}

func (f *folder) deleteLocked(bucket, key string) error {
	if err := f.checkBucket(bucket); err != nil {
		return err
	}
	p := f.objectPath(bucket, key)
	if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
		return nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s/%s: %w", bucket, key, err)
	}
	os.Remove(f.metaPath(bucket, key))
	// Remove folders the object leaves empty, up to the bucket.
	base := f.bucketDir(bucket)
	for dir := filepath.Dir(p); dir != base && strings.HasPrefix(dir, base); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}

// DeleteMulti implements gofakes3.Backend.
func (f *folder) DeleteMulti(bucket string, keys ...string) (gofakes3.MultiDeleteResult, error) {
	var result gofakes3.MultiDeleteResult
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, key := range keys {
		err := checkKey(key)
		if err == nil {
			err = f.deleteLocked(bucket, key)
		}
		if err != nil {
			result.Error = append(result.Error, gofakes3.ErrorResult{Key: key, Code: gofakes3.ErrInternal, Message: err.Error()})
			continue
		}
		result.Deleted = append(result.Deleted, gofakes3.ObjectID{Key: key})
	}
	return result, nil
}

// CopyObject implements gofakes3.Backend.
func (f *folder) CopyObject(srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (gofakes3.CopyObjectResult, error) {
	return gofakes3.CopyObject(f, srcBucket, srcKey, dstBucket, dstKey, meta)
}

// Errors a file system gives when a key needs a folder where a file is, or
// the reverse.
var (
	syscallNotDir error = syscall.ENOTDIR
	syscallIsDir  error = syscall.EISDIR
)
