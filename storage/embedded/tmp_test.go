package embedded

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestCleanAbandoned: of the entries of .tmp, only those of a dead (or
// pid-reusing) process on this host, and those without a checkable owner
// older than AbandonedAfter, are removed.
func TestCleanAbandoned(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	// A process that has exited: its pid is (almost surely) free.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	me := os.Getpid()
	host := hostTag()
	old := now.Add(-AbandonedAfter - time.Hour)
	cases := []struct {
		name    string
		dir     bool
		mtime   time.Time
		removed bool
	}{
		{ownerPrefix() + "1", true, old, false},                                                   // this live process, even when old
		{"proc-" + strconv.Itoa(me) + "-0-" + host + "-2", true, now, false},                      // live, start time unknown
		{"proc-" + strconv.Itoa(dead) + "-" + procStart(me) + "-" + host + "-3", true, now, true}, // dead process
		{"proc-" + strconv.Itoa(me) + "-1-" + host + "-4", true, now, procStart(me) != "0"},       // pid reused by this process
		{"proc-" + strconv.Itoa(dead) + "-" + procStart(me) + "-other-host-5", true, now, false},  // other host, recent
		{"proc-" + strconv.Itoa(dead) + "-" + procStart(me) + "-other-host-6", true, old, true},   // other host, old
		{"object-123", false, now, false},                                                         // an older version's upload, recent
		{"upload-7", true, now, false},
		{"meta-456", false, old, true}, // an older version's leftover
		{"upload-8", true, old, true},
	}
	for _, c := range cases {
		p := filepath.Join(dir, c.name)
		var err error
		if c.dir {
			err = os.MkdirAll(filepath.Join(p, "1"), 0o755)
		} else {
			err = os.WriteFile(p, []byte("x"), 0o644)
		}
		if err == nil {
			err = os.Chtimes(p, c.mtime, c.mtime)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	cleanAbandoned(dir, now)
	for _, c := range cases {
		_, err := os.Stat(filepath.Join(dir, c.name))
		if gone := os.IsNotExist(err); gone != c.removed {
			t.Errorf("%s: removed %v, want %v", c.name, gone, c.removed)
		}
	}
}

func TestOwnerParses(t *testing.T) {
	pid, start, host, ok := owner(ownerPrefix() + "123456")
	if !ok || pid != os.Getpid() || start != procStart(os.Getpid()) || host != hostTag() {
		t.Errorf("owner(%q) = %d, %q, %q, %v", ownerPrefix()+"123456", pid, start, host, ok)
	}
	for _, bad := range []string{"object-1", "proc-x-1-h-2", "proc-0-1-h-2", "proc-12-1-h", "upload-3"} {
		if _, _, _, ok := owner(bad); ok {
			t.Errorf("owner(%q) parsed", bad)
		}
	}
}
