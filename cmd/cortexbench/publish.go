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
	d := snapshot.DefaultInterval
	fs.Var((*positiveDuration)(&d), "publish-every",
		"least `duration` between two publishes of the public leaderboard snapshot (leaderboard/latest.json|csv), which is published whenever the scores change")
	return &d
}

// positiveDuration is a flag.Value for a duration that must be > 0.
type positiveDuration time.Duration

func (d *positiveDuration) String() string { return time.Duration(*d).String() }
func (d *positiveDuration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (e.g. 30s or 2m)", s)
	}
	if v <= 0 {
		return fmt.Errorf("%s is not positive: give the least time between two publishes, e.g. 30s", s)
	}
	*d = positiveDuration(v)
	return nil
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
