package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/wire"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

// Bucket is what PublishVersion needs of the public bucket; objstore
// buckets (storage/s3, objstore.Memory) satisfy it.
type Bucket interface {
	SnapshotWriter
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	List(ctx context.Context, opts objstore.ListOptions) (objstore.ListPage, error)
}

// VersionedPrefix holds the snapshots PublishVersion writes, named so that
// byte order is (generation, build time) order: VersionedPrefix +
// "<generation, 20 digits>-<UTC build time>-<hash>.json|.csv". ("g" sorts
// after the digits that start Publish's time-named keys.)
const VersionedPrefix = Prefix + "g"

// Version says what a snapshot was built from: Generation, a number that
// grows whenever the scored set changes (a score added, a model withdrawn;
// stores.Board.ScoresGeneration), read before the data; and the time the
// build started. A snapshot is newer than another when its generation is
// larger, or equal and built later.
type Version struct {
	Generation int64
	At         time.Time
}

// Meta is the "snapshot" member of a JSON snapshot PublishVersion wrote:
// its version, and the sha256 of the leaderboard document without it
// (the same content gives the same SHA256 whatever the version).
type Meta struct {
	Generation int64     `json:"scores_generation"`
	BuiltAt    time.Time `json:"built_at"`
	SHA256     string    `json:"sha256"`
}

func (m Meta) version() Version { return Version{m.Generation, m.BuiltAt} }

// newer reports whether a is newer than b.
func (a Version) newer(b Version) bool {
	return a.Generation > b.Generation || a.Generation == b.Generation && a.At.After(b.At)
}

// stem is the versioned key without its extension.
func (v Version) stem(sha string) string {
	return fmt.Sprintf("%s%020d-%s-%s", VersionedPrefix, v.Generation, v.At.UTC().Format("20060102T150405.000000000Z"), sha[:12])
}

// document is the published JSON: the /api/v1/leaderboard document of
// every row plus its Meta.
type document struct {
	wire.Leaderboard
	Snapshot Meta `json:"snapshot"`
}

// Result says what PublishVersion did.
type Result struct {
	// Published is true when this call wrote the snapshot and pointed
	// latest at it; false when latest already held something as new or
	// the same content (Current).
	Published bool
	Keys      Keys
	// Current is the Meta of latest.json as read before publishing (zero
	// when there was none, or one without Meta: written by Publish).
	Current Meta
	// Repointed counts the times latest was pointed at a newer snapshot
	// another publisher wrote meanwhile.
	Repointed int
	// Pruned counts the versioned snapshots deleted (beyond the newest
	// KeepVersions) after publishing.
	Pruned int
}

// KeepVersions is how many versioned snapshots (JSON and CSV pairs) a
// bucket keeps: PublishVersion deletes older ones after publishing, so a
// platform publishing every 30 s does not fill its bucket. A publisher
// racing with another only ever reads the newest few, which stay.
const KeepVersions = 100

// deleter is a Bucket that can delete (every objstore.Bucket can).
type deleter interface {
	Bucket
	Delete(ctx context.Context, key string) error
}

// PruneVersions deletes every versioned snapshot but the newest keep
// (by generation, then build time: the keys' byte order) and returns how
// many snapshots it deleted.
func PruneVersions(ctx context.Context, b interface {
	List(ctx context.Context, opts objstore.ListOptions) (objstore.ListPage, error)
	Delete(ctx context.Context, key string) error
}, keep int) (int, error) {
	var stems []string
	opts := objstore.ListOptions{Prefix: VersionedPrefix}
	for {
		page, err := b.List(ctx, opts)
		if err != nil {
			return 0, fmt.Errorf("prune snapshots: list %s: %w", VersionedPrefix, err)
		}
		for _, o := range page.Objects {
			if stem, ok := strings.CutSuffix(o.Key, ".json"); ok {
				stems = append(stems, stem)
			}
		}
		if page.Next == "" {
			break
		}
		opts.After = page.Next
	}
	if len(stems) <= keep {
		return 0, nil
	}
	old := stems[:len(stems)-keep]
	for _, stem := range old {
		// The JSON first: a versioned JSON implies its CSV.
		for _, k := range []string{stem + ".json", stem + ".csv"} {
			if err := b.Delete(ctx, k); err != nil {
				return 0, fmt.Errorf("prune snapshots: delete %s: %w", k, err)
			}
		}
	}
	return len(old), nil
}

// PublishVersion publishes lb, built from v, unless latest.json already
// holds a newer snapshot or the same content: several processes may
// publish at once and an older snapshot never stays in place.
//
// It reads latest.json's Meta and stops when that is not older than v, or
// is of the same generation with the same SHA256. Otherwise it writes the CSV then the JSON under
// VersionedPrefix (so a versioned JSON implies its CSV), then the same
// bytes to LatestJSON and LatestCSV, then lists the versioned snapshots
// after its own: when another publisher wrote a newer one meanwhile, it
// points latest at that one and looks again. The last publisher to write
// latest therefore leaves the newest snapshot any publisher had written
// before its last look. The content (rows, the CSV's neutralisation, what
// is public) is Publish's.
func PublishVersion(ctx context.Context, b Bucket, lb *leaderboard.Leaderboard, v Version) (Result, error) {
	doc := document{Leaderboard: wire.FromLeaderboard(lb, 0, -1)}
	plain, err := json.Marshal(doc.Leaderboard)
	if err != nil {
		return Result{}, fmt.Errorf("publish snapshot: encode json: %w", err)
	}
	sum := sha256.Sum256(plain)
	doc.Snapshot = Meta{Generation: v.Generation, BuiltAt: v.At.UTC(), SHA256: hex.EncodeToString(sum[:])}
	v.At = doc.Snapshot.BuiltAt
	js, err := json.Marshal(doc)
	if err != nil {
		return Result{}, fmt.Errorf("publish snapshot: encode json: %w", err)
	}
	cs, err := wire.CSV(lb)
	if err != nil {
		return Result{}, fmt.Errorf("publish snapshot: encode csv: %w", err)
	}
	cur, err := ReadMeta(ctx, b, LatestJSON)
	if err != nil {
		return Result{}, err
	}
	res := Result{Current: cur}
	// The same content again (a restart) is not news; the same content
	// as an older generation is: a publisher of content in between may
	// be about to write latest.
	if !v.newer(cur.version()) || cur.SHA256 == doc.Snapshot.SHA256 && cur.Generation == v.Generation {
		return res, nil
	}
	stem := v.stem(doc.Snapshot.SHA256)
	res.Keys = Keys{JSON: stem + ".json", CSV: stem + ".csv"}
	for _, o := range []struct {
		key  string
		body []byte
	}{{res.Keys.CSV, cs}, {res.Keys.JSON, js}, {LatestJSON, js}, {LatestCSV, cs}} {
		if err := b.Put(ctx, o.key, bytes.NewReader(o.body)); err != nil {
			return res, fmt.Errorf("publish snapshot %s: %w", o.key, err)
		}
	}
	res.Published = true
	for last := res.Keys.JSON; ; {
		newest, err := newestAfter(ctx, b, last)
		if err != nil {
			return res, err
		}
		if newest == "" {
			if d, ok := b.(deleter); ok {
				res.Pruned, err = PruneVersions(ctx, d, KeepVersions)
			}
			return res, err
		}
		if err := repoint(ctx, b, strings.TrimSuffix(newest, ".json")); err != nil {
			return res, err
		}
		res.Repointed++
		last = newest
	}
}

// newestAfter returns the last versioned JSON key after after, "" when
// none.
func newestAfter(ctx context.Context, b Bucket, after string) (string, error) {
	newest := ""
	opts := objstore.ListOptions{Prefix: VersionedPrefix, After: after}
	for {
		page, err := b.List(ctx, opts)
		if err != nil {
			return "", fmt.Errorf("publish snapshot: list %s: %w", VersionedPrefix, err)
		}
		for _, o := range page.Objects {
			if strings.HasSuffix(o.Key, ".json") {
				newest = o.Key
			}
		}
		if page.Next == "" {
			return newest, nil
		}
		opts.After = page.Next
	}
}

// repoint copies the versioned snapshot stem.json|.csv to latest.
func repoint(ctx context.Context, b Bucket, stem string) error {
	for _, k := range [][2]string{{stem + ".json", LatestJSON}, {stem + ".csv", LatestCSV}} {
		body, err := get(ctx, b, k[0])
		if err != nil {
			return fmt.Errorf("publish snapshot: read newer %s: %w", k[0], err)
		}
		if err := b.Put(ctx, k[1], bytes.NewReader(body)); err != nil {
			return fmt.Errorf("publish snapshot %s (newer %s): %w", k[1], k[0], err)
		}
	}
	return nil
}

func get(ctx context.Context, b Bucket, key string) ([]byte, error) {
	rc, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// ReadMeta returns the Meta of the JSON snapshot under key: zero when
// there is none or it has no Meta (written by Publish, an older version).
func ReadMeta(ctx context.Context, b Bucket, key string) (Meta, error) {
	body, err := get(ctx, b, key)
	if objstore.IsNotFound(err) {
		return Meta{}, nil
	}
	if err != nil {
		return Meta{}, fmt.Errorf("publish snapshot: read %s: %w", key, err)
	}
	var d struct {
		Snapshot Meta `json:"snapshot"`
	}
	if err := json.Unmarshal(body, &d); err != nil {
		// Unreadable: replace it.
		return Meta{}, nil
	}
	return d.Snapshot, nil
}
