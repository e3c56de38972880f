//go:build unix

package perf

import (
	"syscall"
	"time"
)

// CPUTime is the CPU time this process has used so far, user and system,
// over all its threads (ONNX Runtime's and OpenBLAS's included); 0 if
// unknown.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
