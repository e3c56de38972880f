// Package memstat reads this process's memory from /proc/self/status
// (Linux): what benchmarks and `cortexbench bench` report as peak and
// resident memory. Elsewhere every reading is 0.
package memstat

import (
	"os"
	"strconv"
	"strings"
)

// Field is the kB field key of /proc/self/status (e.g. "VmHWM:") in
// bytes, 0 if unknown.
func Field(key string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// Peak is the process's peak resident set (VmHWM) in bytes.
func Peak() int64 { return Field("VmHWM:") }

// Resident is the process's resident set now (VmRSS) in bytes.
func Resident() int64 { return Field("VmRSS:") }

// ResetPeak sets the kernel's record of the peak to what is resident now
// (writing 5 to /proc/self/clear_refs), so that Peak measures from here.
func ResetPeak() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }
