// Package s3 is the objstore.Bucket adapter for S3-compatible object storage
// (AWS S3, versitygw, MinIO, the embedded endpoint of storage/embedded) on
// aws-sdk-go-v2. It is the only object-storage code path in cortexbench: the
// embedded default serves S3 over loopback and this adapter talks to it.
//
// Conditional create (PutIfAbsent) sends PutObject with "If-None-Match: *" and
// maps 412 Precondition Failed to objstore.ErrExists. It is atomic exactly
// when the server honours that header atomically: AWS S3 (since 2024-08),
// versitygw and the embedded endpoint (gofakes3 v1.2.0, checked under its
// backend lock) do, and the conformance suite checks it on each of them. A
// server that ignores the header silently overwrites: do not point
// cortexbench at such a server. The body of a conditional create is sent in
// one PutObject (never multipart, whose completion most S3-compatible servers
// do not make conditional), so it is limited to 5 GiB and is spooled to a
// temporary file when the reader cannot seek.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/cortexbench/cortexbench/storage/objstore"
)

// Defaults applied by Config.WithDefaults.
const (
	DefaultRegion     = "us-east-1"
	DefaultMaxRetries = 3
	DefaultPartSize   = 16 << 20
	// MinPartSize is S3's minimum size of every part but the last.
	MinPartSize = 5 << 20
	// maxSinglePut is S3's limit on one PutObject.
	maxSinglePut = 5 << 30
)

// Config configures the adapter.
type Config struct {
	// Endpoint is the server's base URL, e.g. "http://127.0.0.1:7070".
	// Empty means AWS S3 itself.
	Endpoint string
	// Region is the signing region; default DefaultRegion.
	Region string
	// Bucket is the bucket every key lives in. Required.
	Bucket string
	// PathStyle addresses the bucket as http://host/bucket/key rather than
	// http://bucket.host/key. Most S3-compatible servers need it.
	PathStyle bool
	// AccessKey and SecretKey are static credentials; set both or neither.
	// When neither is set the SDK's standard chain is used (environment,
	// shared config files, instance roles).
	AccessKey string
	SecretKey string
	// MaxRetries is how many times a failed request is retried (so
	// MaxRetries+1 attempts); default DefaultMaxRetries. Set -1 for none.
	MaxRetries int
	// PartSize is the size of each part of a multipart upload; bodies larger
	// than one part are uploaded in parts. Default DefaultPartSize, at least
	// MinPartSize.
	PartSize int64
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	return c
}

// Validate reports what is wrong with c (after WithDefaults).
func (c Config) Validate() error {
	var errs []error
	if c.Bucket == "" {
		errs = append(errs, errors.New("bucket is required"))
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("endpoint %q must be an http:// or https:// URL with a host", c.Endpoint))
		}
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		errs = append(errs, errors.New("set both access key and secret key, or neither to use the standard credentials chain"))
	}
	if c.MaxRetries < -1 {
		errs = append(errs, fmt.Errorf("max retries %d: use -1 for none, 0 for the default", c.MaxRetries))
	}
	if c.PartSize < MinPartSize {
		errs = append(errs, fmt.Errorf("part size %d is below S3's minimum of %d bytes", c.PartSize, MinPartSize))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("s3 config: %w", err)
	}
	return nil
}

// Bucket is an objstore.Bucket on one S3 bucket. It is safe for concurrent
// use.
type Bucket struct {
	client     *awss3.Client
	uploader   *manager.Uploader
	bucket     string
	maxRetries int
}

var _ objstore.Bucket = (*Bucket)(nil)

// New returns an adapter for cfg (defaults applied). It does not contact the
// server; call CreateBucket to make sure the bucket exists.
func New(ctx context.Context, cfg Config) (*Bucket, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	attempts := cfg.MaxRetries + 1
	if cfg.MaxRetries < 0 {
		attempts = 1
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(cfg.Region),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = attempts })
		}),
	}
	if cfg.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS config: %w", err)
	}
	client := awss3.NewFromConfig(awsCfg, func(o *awss3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			// S3-compatible servers differ in which flexible checksums they
			// accept; send and verify them only where the API requires it.
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
		o.UsePathStyle = cfg.PathStyle
	})
	//lint:ignore SA1019 the manager uploader is what go.mod pins; transfermanager is its successor.
	uploader := manager.NewUploader(client, func(u *manager.Uploader) { u.PartSize = cfg.PartSize })
	return &Bucket{client: client, uploader: uploader, bucket: cfg.Bucket, maxRetries: attempts - 1}, nil
}

// Name returns the bucket's name.
func (b *Bucket) Name() string { return b.bucket }

// CreateBucket creates the bucket if it does not exist yet.
func (b *Bucket) CreateBucket(ctx context.Context) error {
	_, err := b.client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: &b.bucket})
	if err == nil {
		return nil
	}
	if !isStatus(err, http.StatusNotFound) {
		return fmt.Errorf("s3: check bucket %s: %w", b.bucket, err)
	}
	_, err = b.client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &b.bucket})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("s3: create bucket %s: %w", b.bucket, err)
	}
	return nil
}

// Get implements objstore.BucketReader.
func (b *Bucket) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := objstore.ValidateKey(key); err != nil {
		return nil, fmt.Errorf("s3: get %s: %w", key, err)
	}
	out, err := b.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: &b.bucket, Key: &key})
	if err != nil {
		return nil, fmt.Errorf("s3: get %s/%s: %w", b.bucket, key, mapError(err))
	}
	return out.Body, nil
}

// Attributes implements objstore.BucketReader.
func (b *Bucket) Attributes(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	if err := objstore.ValidateKey(key); err != nil {
		return objstore.ObjectInfo{}, fmt.Errorf("s3: attributes of %s: %w", key, err)
	}
	out, err := b.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: &b.bucket, Key: &key})
	if err != nil {
		return objstore.ObjectInfo{}, fmt.Errorf("s3: attributes of %s/%s: %w", b.bucket, key, mapError(err))
	}
	return objstore.ObjectInfo{
		Key:          key,
		Size:         aws.ToInt64(out.ContentLength),
		LastModified: aws.ToTime(out.LastModified),
		ETag:         aws.ToString(out.ETag),
	}, nil
}

// Exists implements objstore.BucketReader.
func (b *Bucket) Exists(ctx context.Context, key string) (bool, error) {
	_, err := b.Attributes(ctx, key)
	if objstore.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// List implements objstore.BucketReader with ListObjectsV2 and StartAfter, so
// a page token is simply the last key of the previous page.
func (b *Bucket) List(ctx context.Context, opts objstore.ListOptions) (objstore.ListPage, error) {
	opts, err := objstore.ValidateListOptions(opts)
	if err != nil {
		return objstore.ListPage{}, fmt.Errorf("s3: list %q: %w", opts.Prefix, err)
	}
	in := &awss3.ListObjectsV2Input{Bucket: &b.bucket, MaxKeys: aws.Int32(int32(opts.Limit))}
	if opts.Prefix != "" {
		in.Prefix = &opts.Prefix
	}
	if opts.After != "" {
		in.StartAfter = &opts.After
	}
	out, err := b.client.ListObjectsV2(ctx, in)
	if err != nil {
		return objstore.ListPage{}, fmt.Errorf("s3: list %s/%s: %w", b.bucket, opts.Prefix, mapError(err))
	}
	var page objstore.ListPage
	for _, o := range out.Contents {
		k := aws.ToString(o.Key)
		// Some servers ignore max-keys; never hand back more than asked.
		if len(page.Objects) == opts.Limit {
			page.Next = page.Objects[len(page.Objects)-1].Key
			return page, nil
		}
		if k <= opts.After || !strings.HasPrefix(k, opts.Prefix) {
			continue
		}
		page.Objects = append(page.Objects, objstore.ObjectInfo{
			Key:          k,
			Size:         aws.ToInt64(o.Size),
			LastModified: aws.ToTime(o.LastModified),
			ETag:         aws.ToString(o.ETag),
		})
	}
	if aws.ToBool(out.IsTruncated) && len(page.Objects) > 0 {
		page.Next = page.Objects[len(page.Objects)-1].Key
	}
	return page, nil
}

// Put implements objstore.Bucket. Bodies larger than PartSize go up as a
// multipart upload; the manager aborts the upload if a part fails.
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader) error {
	if err := objstore.CheckPut(ctx, key, r); err != nil {
		return fmt.Errorf("s3: put %s: %w", key, err)
	}
	_, err := b.uploader.Upload(ctx, &awss3.PutObjectInput{Bucket: &b.bucket, Key: &key, Body: r})
	if err != nil {
		return fmt.Errorf("s3: put %s/%s: %w", b.bucket, key, mapError(err))
	}
	return nil
}

// PutIfAbsent implements objstore.Bucket with "If-None-Match: *"; see the
// package documentation for when it is atomic.
func (b *Bucket) PutIfAbsent(ctx context.Context, key string, r io.Reader) error {
	if err := objstore.CheckPut(ctx, key, r); err != nil {
		return fmt.Errorf("s3: put %s if absent: %w", key, err)
	}
	body, size, cleanup, err := seekable(r)
	if err != nil {
		return fmt.Errorf("s3: put %s if absent: %w", key, err)
	}
	defer cleanup()
	if size > maxSinglePut {
		return fmt.Errorf("s3: put %s if absent: %w: %d bytes exceeds the 5 GiB limit of a conditional create",
			key, objstore.ErrInvalidArgument, size)
	}
	start, err := body.Seek(0, io.SeekCurrent)
	if err != nil {
		return fmt.Errorf("s3: put %s if absent: %w", key, err)
	}
	// AWS answers 409 ConditionalRequestConflict while a competing
	// conditional write is in flight; the SDK does not retry it, so retry
	// here: the next attempt sees the winner's object (412) or wins.
	for attempt := 0; ; attempt++ {
		_, err = b.client.PutObject(ctx, &awss3.PutObjectInput{
			Bucket:        &b.bucket,
			Key:           &key,
			Body:          body,
			ContentLength: aws.Int64(size),
			IfNoneMatch:   aws.String("*"),
		})
		if err == nil {
			return nil
		}
		if !isStatus(err, http.StatusConflict) || attempt >= b.maxRetries {
			return fmt.Errorf("s3: put %s/%s if absent: %w", b.bucket, key, mapError(err))
		}
		if _, serr := body.Seek(start, io.SeekStart); serr != nil {
			return fmt.Errorf("s3: put %s/%s if absent: rewind body for retry: %w", b.bucket, key, serr)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("s3: put %s/%s if absent: %w", b.bucket, key, ctx.Err())
		case <-time.After(time.Duration(50*(attempt+1)) * time.Millisecond):
		}
	}
}

// Delete implements objstore.Bucket.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := objstore.ValidateKey(key); err != nil {
		return fmt.Errorf("s3: delete %s: %w", key, err)
	}
	_, err := b.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &b.bucket, Key: &key})
	if err != nil && !errors.Is(mapError(err), objstore.ErrNotFound) {
		return fmt.Errorf("s3: delete %s/%s: %w", b.bucket, key, mapError(err))
	}
	return nil
}

// seekable returns r as a ReadSeeker with its remaining length, spooling it
// to a temporary file when r cannot seek. The SDK rewinds a seekable body to
// where it started when it retries.
func seekable(r io.Reader) (io.ReadSeeker, int64, func(), error) {
	if rs, ok := r.(io.ReadSeeker); ok {
		if cur, err := rs.Seek(0, io.SeekCurrent); err == nil {
			if end, err := rs.Seek(0, io.SeekEnd); err == nil {
				if _, err := rs.Seek(cur, io.SeekStart); err == nil {
					return rs, end - cur, func() {}, nil
				}
			}
		}
	}
	f, err := os.CreateTemp("", "cortexbench-s3-*")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("spool body: %w", err)
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	n, err := io.Copy(f, io.LimitReader(r, maxSinglePut+1))
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		return nil, 0, nil, fmt.Errorf("spool body: %w", err)
	}
	return f, n, cleanup, nil
}

// mapError turns the server's answers that have a meaning in objstore into
// its sentinels, keeping the original error in the chain.
func mapError(err error) error {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	switch {
	case errors.As(err, &nsk), errors.As(err, &nf):
		return fmt.Errorf("%w: %w", objstore.ErrNotFound, err)
	case isStatus(err, http.StatusInsufficientStorage) || hasCode(err, "InsufficientStorage", "XMinioStorageFull"):
		// The embedded endpoint (and MinIO) answer 507 when their disk is
		// full; the error then also satisfies errors.Is(err, syscall.ENOSPC).
		return fmt.Errorf("%w: %w", objstore.ErrInsufficientStorage, err)
	case isStatus(err, http.StatusPreconditionFailed):
		return fmt.Errorf("%w: %w", objstore.ErrExists, err)
	case isStatus(err, http.StatusNotFound):
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchBucket" {
			return err
		}
		return fmt.Errorf("%w: %w", objstore.ErrNotFound, err)
	}
	return err
}

func hasCode(err error, codes ...string) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.ErrorCode() == c {
			return true
		}
	}
	return false
}

func isStatus(err error, status int) bool {
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == status
}
