package leaderboard

import (
	"context"
	"time"
)

// WithdrawnModel is what the leaderboard says of a withdrawn model: it
// existed and left every listing (issue 17, finding 2).
type WithdrawnModel struct {
	Hash, Name string
	// ByOwner is true when its owner withdrew it, false for a maintainer.
	ByOwner bool
	Reason  string
	At      time.Time
}

// Withdrawals is implemented by a Source that keeps withdrawn models out
// of its listings and can tell about one (stores.Board): a request for
// a withdrawn model is answered 410 Gone with when, by whom (owner or
// maintainer) and why, rather than 404.
type Withdrawals interface {
	// WithdrawnModel returns the withdrawn model whose id is id or starts
	// with it; false when none.
	WithdrawnModel(ctx context.Context, id string) (WithdrawnModel, bool, error)
}
