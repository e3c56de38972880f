package riverqueue

import (
	"testing"
	"time"
)

// The rescuer rescues nothing until the database has answered for a whole
// heartbeat window since the process started or since the last failure,
// so live workers whose heartbeats an outage held back are not rescued.
func TestRescueGate(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	g := rescueGate{window: time.Minute, healthySince: t0}
	for _, tc := range []struct {
		at    time.Duration
		fail  bool
		ready bool
	}{
		{30 * time.Second, false, false}, // just started
		{60 * time.Second, false, true},
		{75 * time.Second, true, false},  // the database is down
		{90 * time.Second, false, false}, // back, but heartbeats may be stale
		{134 * time.Second, false, false},
		{135 * time.Second, false, true},
	} {
		now := t0.Add(tc.at)
		if tc.fail {
			g.failed(now)
		}
		if got := g.ready(now); got != tc.ready {
			t.Errorf("at %v: ready %v, want %v", tc.at, got, tc.ready)
		}
	}
}
