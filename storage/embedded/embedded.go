package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/johannesboyne/gofakes3"

	"github.com/cortexbench/cortexbench/internal/graceful"
	"github.com/cortexbench/cortexbench/storage/s3"
)

// Defaults applied by Config.WithDefaults.
const (
	DefaultDir    = ".cortexbench/objects"
	DefaultBucket = "cortexbench"
	DefaultAddr   = "127.0.0.1:0"
	// PublicSuffix is appended to Bucket to name the public bucket when
	// Config.PublicBucket is empty.
	PublicSuffix = "-public"
)

// Config configures the embedded endpoint.
type Config struct {
	// Dir is the folder the objects live in; created if missing.
	Dir string
	// Bucket is created in Dir if missing. Every request to it must be
	// signed with the endpoint's credentials.
	Bucket string
	// PublicBucket is created in Dir if missing; anonymous clients may
	// read and list it (GET and HEAD only), writing it needs a signature.
	// It is meant for the published leaderboard snapshots and nothing
	// else. Default Bucket+PublicSuffix.
	PublicBucket string
	// Addr is the listen address; it must be a loopback IP. Port 0 picks a
	// free port.
	Addr string
	// AccessKey and SecretKey are the only credentials the endpoint
	// accepts. Leave both empty (the default) to use the ones in
	// CredentialsPath(Dir), generated at random on the first start.
	AccessKey string
	SecretKey string
	// PartSize is passed to the S3 adapter Open returns; 0 means its default.
	PartSize int64
	// Logger receives a line for each write refused because the disk or
	// quota is full, naming the object and the file (default
	// slog.Default()).
	Logger *slog.Logger
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
	if c.PublicBucket == "" {
		c.PublicBucket = c.Bucket + PublicSuffix
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
	if err := gofakes3.ValidateBucketName(c.PublicBucket); err != nil {
		errs = append(errs, fmt.Errorf("public bucket %q: %w", c.PublicBucket, err))
	} else if c.PublicBucket == c.Bucket {
		errs = append(errs, fmt.Errorf("public bucket %q must differ from the private bucket", c.PublicBucket))
	}
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		errs = append(errs, fmt.Errorf("addr %q: want host:port, e.g. %s", c.Addr, DefaultAddr))
	} else if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		errs = append(errs, fmt.Errorf("addr %q: the embedded endpoint listens only on a loopback IP such as 127.0.0.1", c.Addr))
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		errs = append(errs, errors.New("set both access key and secret key, or neither for generated ones"))
	} else if c.SecretKey != "" && len(c.SecretKey) < 16 {
		errs = append(errs, errors.New("secret key must be at least 16 characters"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("embedded object store config: %w", err)
	}
	return nil
}

// Server is a running embedded endpoint.
type Server struct {
	cfg       Config
	endpoint  string
	credsFile string // "" when the keys came from Config
	srv       *http.Server
	done      chan error
	backend   *folder
	shut      *graceful.Tracker // closes connections that never sent a request at once
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
	backend.log = cfg.Logger
	credsFile := ""
	if cfg.AccessKey == "" {
		credsFile = CredentialsPath(dir)
		if cfg.AccessKey, cfg.SecretKey, err = loadOrCreateCredentials(credsFile); err != nil {
			return nil, fmt.Errorf("embedded: %w", err)
		}
	}
	for _, b := range []string{cfg.Bucket, cfg.PublicBucket} {
		if err := backend.CreateBucket(b); err != nil && !gofakes3.HasErrorCode(err, gofakes3.ErrBucketAlreadyExists) {
			return nil, fmt.Errorf("embedded: create bucket %s: %w", b, err)
		}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		backend.removeTmp()
		return nil, fmt.Errorf("embedded: listen on %s: %w", cfg.Addr, err)
	}
	faker := gofakes3.New(backend, gofakes3.WithHostBucket(false))
	host := ln.Addr().String()
	handler := &guard{
		next:      faker.Server(),
		host:      host,
		accessKey: cfg.AccessKey,
		secretKey: cfg.SecretKey,
		public:    cfg.PublicBucket,
		now:       time.Now,
	}
	s := &Server{
		cfg:       cfg,
		endpoint:  "http://" + host,
		credsFile: credsFile,
		backend:   backend,
		srv:       &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: errorLog()},
		done:      make(chan error, 1),
	}
	s.shut = graceful.Track(s.srv)
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Endpoint returns the server's base URL, e.g. "http://127.0.0.1:40123".
func (s *Server) Endpoint() string { return s.endpoint }

// Bucket returns the private bucket's name.
func (s *Server) Bucket() string { return s.cfg.Bucket }

// PublicBucket returns the name of the bucket anonymous clients may read.
func (s *Server) PublicBucket() string { return s.cfg.PublicBucket }

// PublicURL returns the anonymous URL of key in the public bucket, e.g.
// "http://127.0.0.1:40123/cortexbench-public/leaderboard/latest.json".
func (s *Server) PublicURL(key string) string {
	return s.endpoint + "/" + s.cfg.PublicBucket + "/" + strings.TrimPrefix(uriEncode(key, false), "/")
}

// Credentials returns the only access and secret keys the endpoint
// accepts; clients sign every request but anonymous reads of the public
// bucket with them.
func (s *Server) Credentials() (accessKey, secretKey string) {
	return s.cfg.AccessKey, s.cfg.SecretKey
}

// CredentialsFile returns the AWS shared-credentials file (profile
// [default], mode 0600) holding the credentials, or "" when they were
// given in Config.
func (s *Server) CredentialsFile() string { return s.credsFile }

// S3Config returns the storage/s3 configuration that reaches the private
// bucket with the endpoint's credentials.
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

// PublicS3Config is S3Config for the public bucket: a signed client that
// may write it (snapshot.Publish).
func (s *Server) PublicS3Config() s3.Config {
	c := s.S3Config()
	c.Bucket = s.cfg.PublicBucket
	return c
}

// OpenPublic returns the S3 adapter, with the endpoint's credentials, for
// the public bucket: the writer to hand to snapshot.Publish.
func (s *Server) OpenPublic(ctx context.Context) (*s3.Bucket, error) {
	b, err := s3.New(ctx, s.PublicS3Config())
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	return b, nil
}

// Close stops accepting requests and waits, until ctx ends, for those in
// flight to finish.
func (s *Server) Close(ctx context.Context) error {
	err := s.shut.Shutdown(ctx, s.srv)
	if err == nil {
		s.backend.removeTmp() // nothing in flight: no upload outlives the server
	}
	if serveErr := <-s.done; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	if err != nil {
		return fmt.Errorf("embedded: shut down %s: %w", s.endpoint, err)
	}
	return nil
}

// Open starts the embedded endpoint and returns the S3 adapter connected to
// its private bucket with its credentials: the one call that gives
// cortexbench its default object storage. Server.OpenPublic gives the
// writer of the public bucket. Close the server when done.
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
