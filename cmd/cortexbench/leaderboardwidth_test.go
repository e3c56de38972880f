package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// run's --width is checked before anything is imported or scored
// (issue 17: the printed leaderboard fits --width, 100 by default; the
// table itself is tested in leaderboard/wire, TestTextFits100Columns).
func TestRunWidthFlagChecked(t *testing.T) {
	_, stderr, err := runWith(t.Context(), t, nil, "run", "--width", "12", "--no-serve", "--data", t.TempDir(),
		"--store", filepath.Join(t.TempDir(), "store"))
	if err == nil || !strings.Contains(stderr+err.Error(), "--width 12 is too narrow") {
		t.Errorf("run --width 12: %v\n%s", err, stderr)
	}
}
