package snapshot

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cortexbench/cortexbench/leaderboard"
)

// Source is the leaderboard's data with a generation that grows whenever
// the scored set changes (stores.Board implements it).
type Source interface {
	leaderboard.Source
	ScoresGeneration(ctx context.Context) (int64, error)
}

// Defaults of Publisher.
const (
	DefaultInterval = 30 * time.Second
	DefaultPoll     = 5 * time.Second
)

// Publisher keeps the published snapshot up to date from one process:
// Run watches the source and publishes (PublishVersion) when it changed,
// at most once per Interval; any number of processes may run one on the
// same bucket. A failure is logged and retried at the next change or
// poll, never returned.
type Publisher struct {
	Bucket Bucket
	Source Source
	// Interval is the least time between two publishes (DefaultInterval
	// when 0): a burst of changes gives one publish at once and one at
	// the end of the interval.
	Interval time.Duration
	// Poll is how often Run reads the source's change token
	// (min(DefaultPoll, Interval) when 0).
	Poll time.Duration
	// Log receives a line per publish and per failure (discarded when nil).
	Log *slog.Logger

	mu        sync.Mutex
	last      time.Time // when the last publish started
	scheduled bool
	failed    bool // the last publish failed: retry at the next poll
	runMu     sync.Mutex
	published int
}

func (p *Publisher) interval() time.Duration {
	if p.Interval > 0 {
		return p.Interval
	}
	return DefaultInterval
}

func (p *Publisher) log() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Published returns how many times this Publisher wrote a snapshot.
func (p *Publisher) Published() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.published
}

// Notify asks for a publish: now when the last one started at least
// Interval ago, else once at the end of the interval, however many
// Notify calls come meanwhile. The publish runs under ctx.
func (p *Publisher) Notify(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.scheduled {
		return
	}
	p.scheduled = true
	wait := time.Until(p.last.Add(p.interval()))
	if wait < 0 {
		wait = 0
	}
	time.AfterFunc(wait, func() {
		if ctx.Err() != nil {
			p.mu.Lock()
			p.scheduled = false
			p.mu.Unlock()
			return
		}
		p.runMu.Lock() // one publish at a time in this process
		defer p.runMu.Unlock()
		if ctx.Err() != nil {
			return
		}
		p.mu.Lock()
		p.scheduled = false // a change from now on asks for another
		p.last = time.Now()
		p.mu.Unlock()
		res, err := p.PublishNow(ctx)
		p.mu.Lock()
		p.failed = err != nil
		p.mu.Unlock()
		switch {
		case err != nil && ctx.Err() != nil:
			// Stopping: the next process to see a change publishes.
		case err != nil:
			p.log().Warn("leaderboard snapshot not published; retrying at the next poll", "err", err)
		case res.Published:
			p.log().Info("leaderboard snapshot published", "key", res.Keys.JSON)
		}
	})
}

// PublishNow reads the source's generation, then the leaderboard (every
// row, no filter), and publishes it with PublishVersion.
func (p *Publisher) PublishNow(ctx context.Context) (Result, error) {
	at := time.Now()
	gen, err := p.Source.ScoresGeneration(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("publish snapshot: scores generation: %w", err)
	}
	ix, err := leaderboard.Load(ctx, p.Source)
	if err != nil {
		return Result{}, fmt.Errorf("publish snapshot: load leaderboard: %w", err)
	}
	res, err := PublishVersion(ctx, p.Bucket, ix.Rank(leaderboard.Filter{}), Version{Generation: gen, At: at})
	if res.Published {
		p.mu.Lock()
		p.published++
		p.mu.Unlock()
	}
	return res, err
}

// Run publishes when the source changed, until ctx ends: it reads the
// scores' generation every Poll, and the models and benchmarks (which
// take more reads) every Interval, and calls Notify when one moved; also
// once at the start (PublishVersion skips when latest already holds the
// same content). It returns once a publish in progress has ended.
func (p *Publisher) Run(ctx context.Context) {
	defer func() { p.runMu.Lock(); p.runMu.Unlock() }()
	poll := p.Poll
	if poll <= 0 {
		poll = min(DefaultPoll, p.interval())
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	var gen int64 = -1
	meta, metaAt := "", time.Time{}
	var warned time.Time
	for {
		changed := false
		g, err := p.Source.ScoresGeneration(ctx)
		if err == nil {
			changed, gen = g != gen, g
			if time.Since(metaAt) >= p.interval() {
				var m string
				if m, err = p.metaToken(ctx); err == nil {
					changed, meta, metaAt = changed || m != meta, m, time.Now()
				}
			}
		}
		p.mu.Lock()
		retry := p.failed && !p.scheduled
		p.mu.Unlock()
		switch {
		case err != nil:
			// Logged once per interval: an outage can last.
			if ctx.Err() == nil && time.Since(warned) >= p.interval() {
				warned = time.Now()
				p.log().Warn("leaderboard snapshot: cannot tell whether the scores changed; trying again", "err", err)
			}
		case changed || retry:
			p.Notify(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// metaToken changes whenever the models or benchmarks do.
func (p *Publisher) metaToken(ctx context.Context) (string, error) {
	ms, err := p.Source.Models(ctx)
	if err != nil {
		return "", err
	}
	bs, err := p.Source.Benchmarks(ctx)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%v %v", ms, bs), nil
}
