package embedded

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"syscall"

	"github.com/johannesboyne/gofakes3"

	"github.com/cortexbench/cortexbench/storage/objstore"
)

// A full disk (issue 15, finding 5). Every write goes to a temporary file
// under .tmp and is renamed into place only once complete, so a write that
// runs out of space leaves no partial object: the temporary file is removed
// and the old object, if any, stays. The client is answered S3's
// InsufficientStorage error with HTTP 507 (gofakes3 would make any backend
// error a 500 InternalError, which S3 clients retry and cannot tell from a
// bug), and the operator gets a log line naming the object and the file.

// CodeInsufficientStorage is the S3 error code answered, with HTTP 507,
// when the store's disk or quota is full.
const CodeInsufficientStorage gofakes3.ErrorCode = "InsufficientStorage"

// writeFailed turns an error writing bucket/key into the error to answer:
// for a full disk or quota, InsufficientStorage (logged with the path the
// error names), after reading the rest of body (may be nil) so the client,
// still sending, reads the answer rather than a reset connection; any
// other error is wrapped with op and the object.
func (f *folder) writeFailed(op, bucket, key string, err error, body io.Reader) error {
	if !objstore.IsInsufficientStorage(err) {
		return fmt.Errorf("%s %s/%s: %w", op, bucket, key, err)
	}
	logger(f.log).Error("embedded object store: out of disk space, nothing stored", "op", op, "object", bucket+"/"+key, "err", err)
	if body != nil {
		_, _ = io.Copy(io.Discard, body)
	}
	what := "no space left on the store's disk"
	if errors.Is(err, syscall.EDQUOT) {
		what = "the disk quota of the store is exceeded"
	}
	return gofakes3.ErrorMessagef(CodeInsufficientStorage, "%s while writing %s/%s: nothing was stored; free space on the server's disk and retry", what, bucket, key)
}

// logger returns l, or slog.Default() when l is nil.
func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}

// held is the part of guardedWriter that holds back a 500 answer until
// its body shows whether it is InsufficientStorage, which is then sent
// as 507.
type held struct {
	on   bool
	buf  bytes.Buffer
	code int
}

var insufficientStorageXML = []byte("<Code>" + string(CodeInsufficientStorage) + "</Code>")

// release writes a held answer with its status: 507 when its body is S3's
// InsufficientStorage error.
func (w *guardedWriter) release() {
	if !w.hold.on {
		return
	}
	w.hold.on = false
	code := w.hold.code
	if bytes.Contains(w.hold.buf.Bytes(), insufficientStorageXML) {
		code = http.StatusInsufficientStorage
	}
	w.ResponseWriter.WriteHeader(code)
	_, _ = w.ResponseWriter.Write(w.hold.buf.Bytes())
}
