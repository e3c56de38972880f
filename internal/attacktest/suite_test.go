package attacktest

import (
	"testing"
	"time"
)

// TestSecuritySuite replays every attack of issue 14 (findings 1, 4, 5, 6
// and 7; 2 and 3 have their own tests in submissions and models) against
// one real 'cortexbench serve' process on 127.0.0.1 and its embedded S3
// endpoint. Each group and each attack is a named subtest.
func TestSecuritySuite(t *testing.T) {
	t0 := time.Now()
	p := startPlatform(t)
	t.Logf("platform set up in %v: API %s, S3 %s", time.Since(t0).Round(time.Millisecond), p.api, p.s3)
	before := p.snapshot(t)

	t.Run("S3", func(t *testing.T) { s3Attacks(t, p) })
	t.Run("S3 objects", func(t *testing.T) { objectWalk(t, p) })
	t.Run("API routes", func(t *testing.T) { routeWalk(t, p) })
	t.Run("web pages", func(t *testing.T) { pageWalk(t, p) })
	t.Run("CSV injection", func(t *testing.T) { csvInjection(t, p) })
	t.Run("file modes", func(t *testing.T) { fileModes(t, p) })
	t.Run("idle clients", func(t *testing.T) { idleClients(t, p) })
	t.Run("nothing changed", func(t *testing.T) { p.unchanged(t, before) })
}
