//go:build cgo && !purego

package linalg

import (
	"os"
	"strings"
	"testing"
)

// ShareBLAS divides OpenBLAS's threads among the sharers while any holds
// it, and restores the setting when the last one releases it, whatever the
// order of release.
func TestShareBLASRestores(t *testing.T) {
	orig := blasThreads()
	defer setBLASThreads(orig)
	setBLASThreads(4)
	r1 := ShareBLAS(2)
	if got := blasThreads(); got != 2 {
		t.Fatalf("4 threads shared by 2: %d each, want 2", got)
	}
	r2 := ShareBLAS(2) // a second sharer while the first holds it
	if got := blasThreads(); got != 2 {
		t.Fatalf("second sharer changed the threads to %d", got)
	}
	r1()
	if got := blasThreads(); got != 2 {
		t.Fatalf("first release while another sharer holds it: %d threads, want 2", got)
	}
	r2()
	if got := blasThreads(); got != 4 {
		t.Fatalf("after the last release: %d threads, want 4 restored", got)
	}
	ShareBLAS(1)() // one worker: nothing to share
	if got := blasThreads(); got != 4 {
		t.Fatalf("ShareBLAS(1) changed the threads to %d", got)
	}
}

func TestKernelsNamed(t *testing.T) {
	got := Kernels()
	if got == "" {
		t.Fatal("OpenBLAS named no kernels")
	}
	if want := os.Getenv("OPENBLAS_CORETYPE"); want != "" && !strings.EqualFold(got, want) {
		t.Errorf("Kernels() = %q with OPENBLAS_CORETYPE=%q", got, want)
	}
}
