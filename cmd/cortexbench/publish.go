package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cortexbench/cortexbench/leaderboard/snapshot"
)

// addPublishFlag adds --publish-every to a command that keeps the public
// snapshot current (serve, worker, run).
func addPublishFlag(fs *flag.FlagSet) *time.Duration {
	return fs.Duration("publish-every", snapshot.DefaultInterval,
		"least time between two publishes of the public leaderboard snapshot (leaderboard/latest.json|csv), which is published whenever the scores change")
}

// publisher is the platform's snapshot publisher: the board of the
// registry and benchmarks into the public bucket.
func (p *platform) publisher(env *Env, every time.Duration) *snapshot.Publisher {
	return &snapshot.Publisher{Bucket: p.public, Source: p.board(), Interval: every,
		Log: slog.New(slog.NewTextHandler(env.Stderr, nil))}
}

// startPublishing keeps the public snapshot current from this process
// until stop is called (issue 15, finding 8): any process that sees the
// scores change publishes, debounced; a failure is logged, never fatal.
func startPublishing(ctx context.Context, env *Env, p *platform, every time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { p.publisher(env, every).Run(ctx) })
	return func() { cancel(); wg.Wait() }
}

// printPublished says on stderr what 'run' published, or why not.
func printPublished(env *Env, p *platform, r snapshot.Result) {
	if r.Published {
		fmt.Fprintf(env.Stderr, "published %s and %s to bucket %q at %s\n", r.Keys.JSON, r.Keys.CSV, p.public.Name(), p.endpoint)
		return
	}
	fmt.Fprintf(env.Stderr, "bucket %q at %s already holds this leaderboard or a newer one (scores generation %d): not published again\n",
		p.public.Name(), p.endpoint, r.Current.Generation)
}
