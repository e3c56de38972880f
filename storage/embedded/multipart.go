package embedded

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/johannesboyne/gofakes3"
)

// Multipart uploads on disk: gofakes3's fallback keeps every part in memory
// until completion, which does not suit model files and cached activations.
// Parts go to <root>/.tmp/<owner>/upload-<id>/<part number>; completion concatenates
// them into one temporary file and commits it like a PutObject. The index of
// uploads in progress is in memory only.

var _ gofakes3.MultipartBackend = (*folder)(nil)

type upload struct {
	id        gofakes3.UploadID
	bucket    string
	key       string
	meta      map[string]string
	initiated time.Time
	parts     map[int]part
}

type part struct {
	etag    string // quoted hex MD5
	size    int64
	modTime time.Time
}

func (f *folder) uploadDir(id gofakes3.UploadID) string {
	return filepath.Join(f.tmp, "upload-"+string(id))
}

// getUpload returns the upload; call with uploadsMu held.
func (f *folder) getUpload(bucket, key string, id gofakes3.UploadID) (*upload, error) {
	u, ok := f.uploads[id]
	if !ok || u.bucket != bucket || u.key != key {
		return nil, gofakes3.ErrNoSuchUpload
	}
	return u, nil
}

// CreateMultipartUpload implements gofakes3.MultipartBackend.
func (f *folder) CreateMultipartUpload(bucket, key string, meta map[string]string) (gofakes3.UploadID, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if ok, _ := f.BucketExists(bucket); !ok {
		return "", gofakes3.BucketNotFound(bucket)
	}
	f.uploadsMu.Lock()
	defer f.uploadsMu.Unlock()
	f.lastUpload++
	id := gofakes3.UploadID(strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.FormatInt(f.lastUpload, 10))
	if err := f.mkdirTemp(f.uploadDir(id)); err != nil {
		return "", f.writeFailed("create multipart upload of", bucket, key, err, nil)
	}
	f.uploads[id] = &upload{id: id, bucket: bucket, key: key, meta: meta, initiated: time.Now(), parts: map[int]part{}}
	return id, nil
}

// UploadPart implements gofakes3.MultipartBackend. The part is streamed to
// disk outside the lock.
func (f *folder) UploadPart(bucket, key string, id gofakes3.UploadID, partNumber int, contentLength int64, input io.Reader) (string, error) {
	if partNumber < 1 || partNumber > gofakes3.MaxUploadPartNumber {
		return "", gofakes3.ErrInvalidPart
	}
	f.uploadsMu.Lock()
	_, err := f.getUpload(bucket, key, id)
	f.uploadsMu.Unlock()
	if err != nil {
		return "", err
	}
	tmp, sum, n, err := f.writeTemp(input)
	if err != nil {
		return "", f.writeFailed(fmt.Sprintf("upload part %d of", partNumber), bucket, key, err, input)
	}
	if n != contentLength {
		os.Remove(tmp)
		return "", gofakes3.ErrIncompleteBody
	}
	f.uploadsMu.Lock()
	defer f.uploadsMu.Unlock()
	u, err := f.getUpload(bucket, key, id) // aborted meanwhile?
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	if err := os.Rename(tmp, filepath.Join(f.uploadDir(id), strconv.Itoa(partNumber))); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("upload part %d of %s/%s: %w", partNumber, bucket, key, err)
	}
	etag := `"` + hex.EncodeToString(sum) + `"`
	u.parts[partNumber] = part{etag: etag, size: n, modTime: time.Now()}
	return etag, nil
}

// ListMultipartUploads implements gofakes3.MultipartBackend (without
// common prefixes: uploads are listed flat).
func (f *folder) ListMultipartUploads(bucket string, marker *gofakes3.UploadListMarker, prefix gofakes3.Prefix, limit int64) (*gofakes3.ListMultipartUploadsResult, error) {
	f.uploadsMu.Lock()
	defer f.uploadsMu.Unlock()
	var ups []*upload
	for _, u := range f.uploads {
		if u.bucket == bucket && prefix.Match(u.key, nil) {
			ups = append(ups, u)
		}
	}
	slices.SortFunc(ups, func(a, b *upload) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(string(a.id), string(b.id))
	})
	result := &gofakes3.ListMultipartUploadsResult{Bucket: bucket, Prefix: prefix.Prefix, MaxUploads: limit}
	if marker != nil {
		result.KeyMarker, result.UploadIDMarker = marker.Object, marker.UploadID
	}
	for _, u := range ups {
		if marker != nil && (u.key < marker.Object || u.key == marker.Object && (marker.UploadID == "" || u.id <= marker.UploadID)) {
			continue
		}
		if limit > 0 && int64(len(result.Uploads)) == limit {
			result.IsTruncated = true
			last := result.Uploads[len(result.Uploads)-1]
			result.NextKeyMarker, result.NextUploadIDMarker = last.Key, last.UploadID
			break
		}
		result.Uploads = append(result.Uploads, gofakes3.ListMultipartUploadItem{
			Key: u.key, UploadID: u.id, StorageClass: "STANDARD", Initiated: gofakes3.NewContentTime(u.initiated),
		})
	}
	return result, nil
}

// ListParts implements gofakes3.MultipartBackend.
func (f *folder) ListParts(bucket, key string, id gofakes3.UploadID, marker int, limit int64) (*gofakes3.ListMultipartUploadPartsResult, error) {
	f.uploadsMu.Lock()
	defer f.uploadsMu.Unlock()
	u, err := f.getUpload(bucket, key, id)
	if err != nil {
		return nil, err
	}
	numbers := make([]int, 0, len(u.parts))
	for n := range u.parts {
		if n > marker {
			numbers = append(numbers, n)
		}
	}
	slices.Sort(numbers)
	result := &gofakes3.ListMultipartUploadPartsResult{
		Bucket: bucket, Key: key, UploadID: id, PartNumberMarker: marker, MaxParts: limit, StorageClass: "STANDARD",
	}
	for _, n := range numbers {
		if limit > 0 && int64(len(result.Parts)) == limit {
			result.IsTruncated = true
			result.NextPartNumberMarker = result.Parts[len(result.Parts)-1].PartNumber
			break
		}
		p := u.parts[n]
		result.Parts = append(result.Parts, gofakes3.ListMultipartUploadPartItem{
			PartNumber: n, ETag: p.etag, Size: p.size, LastModified: gofakes3.NewContentTime(p.modTime),
		})
	}
	return result, nil
}

// AbortMultipartUpload implements gofakes3.MultipartBackend.
func (f *folder) AbortMultipartUpload(bucket, key string, id gofakes3.UploadID) error {
	f.uploadsMu.Lock()
	defer f.uploadsMu.Unlock()
	if _, err := f.getUpload(bucket, key, id); err != nil {
		return err
	}
	delete(f.uploads, id)
	return os.RemoveAll(f.uploadDir(id))
}

// CompleteMultipartUpload implements gofakes3.MultipartBackend. The returned
// ETag is the MD5 of the whole object, the same one HEAD and LIST report.
func (f *folder) CompleteMultipartUpload(bucket, key string, id gofakes3.UploadID, input *gofakes3.CompleteMultipartUploadRequest) (gofakes3.VersionID, string, error) {
	f.uploadsMu.Lock()
	u, err := f.getUpload(bucket, key, id)
	if err == nil {
		// Claim the upload so a concurrent abort or second completion fails.
		delete(f.uploads, id)
	}
	f.uploadsMu.Unlock()
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(f.uploadDir(id))
	if len(input.Parts) == 0 {
		return "", "", gofakes3.ErrorMessage(gofakes3.ErrInvalidPart, "a multipart upload needs at least one part")
	}
	prev := 0
	for _, in := range input.Parts {
		if in.PartNumber <= prev {
			return "", "", gofakes3.ErrInvalidPartOrder
		}
		prev = in.PartNumber
		p, ok := u.parts[in.PartNumber]
		if !ok || strings.Trim(in.ETag, `"`) != strings.Trim(p.etag, `"`) {
			return "", "", gofakes3.ErrorMessagef(gofakes3.ErrInvalidPart, "part %d was not uploaded with ETag %s", in.PartNumber, in.ETag)
		}
	}
	out, err := f.createTemp("object-*")
	if err != nil {
		return "", "", f.writeFailed("complete", bucket, key, err, nil)
	}
	defer os.Remove(out.Name()) // a no-op once committed
	h := md5.New()
	w := io.MultiWriter(out, h)
	for _, in := range input.Parts {
		if err = appendFile(w, filepath.Join(f.uploadDir(id), strconv.Itoa(in.PartNumber))); err != nil {
			break
		}
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", "", f.writeFailed("complete", bucket, key, fmt.Errorf("assemble parts: %w", err), nil)
	}
	sum := h.Sum(nil)
	if err := f.commit(bucket, key, out.Name(), sum, u.meta, nil); err != nil {
		return "", "", err
	}
	return "", `"` + hex.EncodeToString(sum) + `"`, nil
}

func appendFile(w io.Writer, path string) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	_, err = io.Copy(w, in)
	return err
}
