// Package snapshot publishes the leaderboard to object storage as JSON and
// CSV, so it can be read with any S3 client without the server.
package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/wire"
)

// SnapshotWriter stores an object under a key; the object store satisfies it.
type SnapshotWriter interface {
	Put(ctx context.Context, key string, r io.Reader) error
}

// The keys written, relative to the bucket.
const (
	Prefix     = "leaderboard/snapshots/"
	LatestJSON = "leaderboard/latest.json"
	LatestCSV  = "leaderboard/latest.csv"
)

// Keys are the versioned keys a Publish wrote.
type Keys struct {
	JSON, CSV string
}

// Publish writes lb whole as JSON (the /api/v1/leaderboard document) and CSV
// under versioned keys Prefix+"<UTC time>-<hash>.json|.csv", where hash is
// the first 12 hex digits of the JSON's sha256, then the same bytes under
// LatestJSON and LatestCSV. The versioned objects are written first so
// "latest" never names something absent; a failure leaves "latest" as it was
// or half-updated (JSON new, CSV old), never pointing at nothing.
//
// Publish overwrites latest unconditionally: a process that may race
// others (serve, workers, run) uses PublishVersion or a Publisher.
func Publish(ctx context.Context, w SnapshotWriter, lb *leaderboard.Leaderboard, at time.Time) (Keys, error) {
	js, err := json.Marshal(wire.FromLeaderboard(lb, 0, -1))
	if err != nil {
		return Keys{}, fmt.Errorf("publish snapshot: encode json: %w", err)
	}
	cs, err := wire.CSV(lb)
	if err != nil {
		return Keys{}, fmt.Errorf("publish snapshot: encode csv: %w", err)
	}
	sum := sha256.Sum256(js)
	stem := Prefix + at.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(sum[:6])
	k := Keys{JSON: stem + ".json", CSV: stem + ".csv"}
	for _, o := range []struct {
		key  string
		body []byte
	}{{k.JSON, js}, {k.CSV, cs}, {LatestJSON, js}, {LatestCSV, cs}} {
		if err := w.Put(ctx, o.key, bytes.NewReader(o.body)); err != nil {
			return Keys{}, fmt.Errorf("publish snapshot %s: %w", o.key, err)
		}
	}
	return k, nil
}
