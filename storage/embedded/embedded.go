// Package embedded is cortexbench's default object storage: an S3-compatible
// endpoint served in-process on loopback over a local folder
// (.cortexbench/objects by default), so the S3 adapter in storage/s3 is the
// only object-storage code path, and any S3 client (the AWS CLI, boto3) can
// read the bucket while the process runs:
//
//	aws --endpoint-url http://127.0.0.1:PORT s3 ls s3://cortexbench/
//
// Objects are plain files under <Dir>/<bucket>/<key>, so they survive
// restarts and can be inspected without the server.
//
// The endpoint is gofakes3 over a folder backend written for this package
// (gofakes3's own s3afero backend does not paginate and can serve torn
// writes). gofakes3 does not check request signatures: any credentials are
// accepted, which is why the server refuses to listen anywhere but loopback.
// The access and secret keys handed out exist so that clients can sign.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/johannesboyne/gofakes3"

	"github.com/cortexbench/cortexbench/storage/s3"
)

// Defaults applied by Config.WithDefaults.
const (
	DefaultDir       = ".cortexbench/objects"
	DefaultBucket    = "cortexbench"
	DefaultAddr      = "127.0.0.1:0"
	DefaultAccessKey = "cortexbench"
	DefaultSecretKey = "cortexbench-embedded"
)

// Config configures the embedded endpoint.
type Config struct {
	// Dir is the folder the objects live in; created if missing.
	Dir string
	// Bucket is created in Dir if missing.
	Bucket string
	// Addr is the listen address; it must be a loopback IP. Port 0 picks a
	// free port.
	Addr string
	// AccessKey and SecretKey are handed to clients (not checked).
	AccessKey string
	SecretKey string
	// PartSize is passed to the S3 adapter Open returns; 0 means its default.
	PartSize int64
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Dir == "" {
		c.Dir = DefaultDir
	}
	if c.Bucket == "" {
		c.Bucket = DefaultBucket
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.AccessKey == "" && c.SecretKey == "" {
		c.AccessKey, c.SecretKey = DefaultAccessKey, DefaultSecretKey
	}
	return c
}

// Validate reports what is wrong with c (after WithDefaults).
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("dir is required"))
	}
	if err := gofakes3.ValidateBucketName(c.Bucket); err != nil {
		errs = append(errs, fmt.Errorf("bucket %q: %w", c.Bucket, err))
	}
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		errs = append(errs, fmt.Errorf("addr %q: want host:port, e.g. %s", c.Addr, DefaultAddr))
	} else if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		errs = append(errs, fmt.Errorf("addr %q: the embedded endpoint accepts any credentials, so it listens only on a loopback IP such as 127.0.0.1", c.Addr))
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		errs = append(errs, errors.New("set both access key and secret key, or neither for the defaults"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("embedded object store config: %w", err)
	}
	return nil
}

// Server is a running embedded endpoint.
type Server struct {
	cfg      Config
	endpoint string
	srv      *http.Server
	done     chan error

	// Connections that have not sent a request yet: Shutdown would wait
	// up to 5s for each, so Close closes them at once.
	connsMu sync.Mutex
	fresh   map[net.Conn]struct{}
}

// Start serves the folder on cfg.Addr (defaults applied) and creates the
// bucket. The server runs until Close.
func Start(cfg Config) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("embedded: resolve %s: %w", cfg.Dir, err)
	}
	backend, err := newFolder(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded: open folder: %w", err)
	}
	if err := backend.CreateBucket(cfg.Bucket); err != nil && !gofakes3.HasErrorCode(err, gofakes3.ErrBucketAlreadyExists) {
		return nil, fmt.Errorf("embedded: create bucket %s: %w", cfg.Bucket, err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("embedded: listen on %s: %w", cfg.Addr, err)
	}
	faker := gofakes3.New(backend, gofakes3.WithHostBucket(false))
	s := &Server{
		cfg:      cfg,
		endpoint: "http://" + ln.Addr().String(),
		srv:      &http.Server{Handler: faker.Server(), ReadHeaderTimeout: 10 * time.Second},
		done:     make(chan error, 1),
		fresh:    map[net.Conn]struct{}{},
	}
	s.srv.ConnState = func(c net.Conn, state http.ConnState) {
		s.connsMu.Lock()
		defer s.connsMu.Unlock()
		if state == http.StateNew {
			s.fresh[c] = struct{}{}
		} else {
			delete(s.fresh, c)
		}
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Endpoint returns the server's base URL, e.g. "http://127.0.0.1:40123".
func (s *Server) Endpoint() string { return s.endpoint }

// Bucket returns the bucket's name.
func (s *Server) Bucket() string { return s.cfg.Bucket }

// Credentials returns the access and secret keys clients should sign with.
func (s *Server) Credentials() (accessKey, secretKey string) {
	return s.cfg.AccessKey, s.cfg.SecretKey
}

// S3Config returns the storage/s3 configuration that reaches this server.
func (s *Server) S3Config() s3.Config {
	return s3.Config{
		Endpoint:  s.endpoint,
		Region:    s3.DefaultRegion,
		Bucket:    s.cfg.Bucket,
		PathStyle: true,
		AccessKey: s.cfg.AccessKey,
		SecretKey: s.cfg.SecretKey,
		PartSize:  s.cfg.PartSize,
	}
}

// Close stops accepting requests and waits, until ctx ends, for those in
// flight to finish.
func (s *Server) Close(ctx context.Context) error {
	shut := make(chan error, 1)
	go func() { shut <- s.srv.Shutdown(ctx) }()
	s.connsMu.Lock()
	for c := range s.fresh {
		c.Close()
	}
	s.connsMu.Unlock()
	err := <-shut
	if serveErr := <-s.done; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	if err != nil {
		return fmt.Errorf("embedded: shut down %s: %w", s.endpoint, err)
	}
	return nil
}

// Open starts the embedded endpoint and returns the S3 adapter connected to
// it: the one call that gives cortexbench its default object storage. Close
// the server when done.
func Open(ctx context.Context, cfg Config) (*s3.Bucket, *Server, error) {
	srv, err := Start(cfg)
	if err != nil {
		return nil, nil, err
	}
	bucket, err := s3.New(ctx, srv.S3Config())
	if err != nil {
		srv.Close(ctx)
		return nil, nil, fmt.Errorf("embedded: %w", err)
	}
	return bucket, srv, nil
}
