package memstat

import (
	"os"
	"runtime"
	"testing"
)

// TestPeakFollowsAnAllocation: touching 64 MiB raises the resident set and
// the peak by about that much, and the peak stays at least the resident
// set after a reset.
func TestPeakFollowsAnAllocation(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc/self/status")
	}
	ResetPeak()
	before := Peak()
	if before <= 0 || Resident() <= 0 {
		t.Fatalf("peak %d, resident %d", before, Resident())
	}
	b := make([]byte, 64<<20)
	for i := range b {
		b[i] = byte(i)
	}
	if grew := Peak() - before; grew < 60<<20 {
		t.Errorf("peak grew %d bytes after touching 64 MiB", grew)
	}
	runtime.KeepAlive(b)
	if Field("NoSuchField:") != 0 {
		t.Error("an unknown field reads as non-zero")
	}
}
