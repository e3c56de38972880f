package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/leaderboard/snapshot"
)

// Issue 14 finding 7: 'run' and 'serve' print where the embedded S3
// endpoint is, its private bucket, the credentials file and access key id,
// and the public snapshot URL, on one line, never the secret.
func TestAnnounceEmbeddedS3(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	fs := newFlagSet(&Env{Getenv: func(string) string { return "" }}, "serve", "serve")
	pf := addPlatformFlags(&Env{Getenv: func(string) string { return "" }}, fs)
	if err := fs.Parse([]string{"--db", filepath.Join(dir, "registry.db"), "--store", filepath.Join(dir, "store")}); err != nil {
		t.Fatal(err)
	}
	p, err := pf.open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close(context.WithoutCancel(ctx))
	var buf bytes.Buffer
	p.announce(&buf)
	line := buf.String()
	ak, sk := p.server.Credentials()
	for _, want := range []string{p.server.Endpoint(), p.server.Bucket(), p.server.CredentialsFile(), ak, p.server.PublicURL(snapshot.LatestJSON)} {
		if want == "" || !strings.Contains(line, want) {
			t.Errorf("announcement %q lacks %q", line, want)
		}
	}
	if sk == "" || strings.Contains(line, sk) {
		t.Errorf("announcement %q shows the secret key", line)
	}
	if strings.Count(line, "\n") != 1 {
		t.Errorf("announcement is not one line: %q", line)
	}
}
