package httpapi

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/submissions"
)

// The refusal window slides: a user at the limit may submit again as
// soon as the oldest counted refusal is a window old, and Retry-After
// says exactly when; a limit ≤ 0 never refuses.
func TestRefusalsWindow(t *testing.T) {
	r := newRefusals(2, time.Hour)
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	r.add("ada", t0)
	if err := r.check("ada", t0.Add(time.Minute)); err != nil {
		t.Fatalf("one refusal: %v", err)
	}
	r.add("ada", t0.Add(10*time.Minute))
	err := r.check("ada", t0.Add(20*time.Minute))
	var re *retryError
	if !errors.As(err, &re) || submissions.ErrorCode(err) != submissions.ELIMIT || re.after != 40*time.Minute {
		t.Fatalf("at the limit: %v (%+v)", err, re)
	}
	if !strings.Contains(err.Error(), "after 11:00:00 UTC (in 40m0s)") {
		t.Errorf("message %q", err)
	}
	if err := r.check("bob", t0.Add(20*time.Minute)); err != nil {
		t.Errorf("bob: %v", err)
	}
	// The first refusal leaves the window at 11:00.
	if err := r.check("ada", t0.Add(time.Hour)); err != nil {
		t.Errorf("an hour after the first refusal: %v", err)
	}
	r.add("ada", t0.Add(61*time.Minute))
	if err := r.check("ada", t0.Add(62*time.Minute)); err == nil {
		t.Error("two refusals in the last hour again: not refused")
	}
	// Entries older than the window are dropped, so memory stays bounded.
	r.check("ada", t0.Add(5*time.Hour))
	if len(r.byUser) != 0 {
		t.Errorf("stale entries kept: %v", r.byUser)
	}
	off := newRefusals(-1, time.Hour)
	for range 100 {
		off.add("ada", t0)
	}
	if err := off.check("ada", t0); err != nil || len(off.byUser) != 0 {
		t.Errorf("no limit: %v, %d users counted", err, len(off.byUser))
	}
}
