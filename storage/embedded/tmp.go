package embedded

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Temporary files of several processes share <root>/.tmp (issue 15,
// finding 9): every open folder writes into its own directory there,
//
//	proc-<pid>-<start>-<host>-<random>
//
// where start is the process's start time (clock ticks since boot, from
// /proc; "0" where unknown), so a pid reused by a later process does not
// keep a dead one's files alive. When a folder opens it removes only what
// is provably abandoned:
//
//   - a directory of a process on this host that is no longer running
//     (no such pid, or the pid now belongs to a process started at
//     another time);
//   - anything else (a directory of another host, whose processes cannot
//     be checked, or files left by versions before this layout) once it
//     is older than AbandonedAfter: no upload takes that long.
//
// So any number of CLI commands, workers and a server can use one store
// at once without breaking each other's uploads.

// AbandonedAfter is the age past which a temporary file or directory whose
// owner cannot be checked is removed.
const AbandonedAfter = 24 * time.Hour

const ownerTag = "proc"

// ownerPrefix is the name prefix of this process's temporary directories.
func ownerPrefix() string {
	return ownerTag + "-" + strconv.Itoa(os.Getpid()) + "-" + procStart(os.Getpid()) + "-" + hostTag() + "-"
}

// hostTag is the host name, reduced to characters safe in a file name.
func hostTag() string {
	h, _ := os.Hostname()
	h = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, h)
	if h == "" {
		h = "unknown"
	}
	return h
}

// procStart returns the start time of process pid in clock ticks since
// boot (field 22 of /proc/<pid>/stat), or "0" when it cannot be read.
func procStart(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "0"
	}
	// The command name (field 2) is in parentheses and may contain
	// anything; the fields after the last ')' start at field 3.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return "0"
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return "0"
	}
	return f[19]
}

// owner parses a temporary directory's name.
func owner(name string) (pid int, start, host string, ok bool) {
	parts := strings.SplitN(name, "-", 4)
	if len(parts) != 4 || parts[0] != ownerTag {
		return 0, "", "", false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 {
		return 0, "", "", false
	}
	j := strings.LastIndexByte(parts[3], '-')
	if j <= 0 {
		return 0, "", "", false
	}
	return pid, parts[2], parts[3][:j], true
}

// running reports whether the process pid started at start is alive.
func running(pid int, start string) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false // ESRCH: no such process
	}
	if start == "0" {
		return true // cannot tell a reused pid: assume alive
	}
	now := procStart(pid)
	return now == "0" || now == start
}

// abandoned reports whether the entry e of .tmp can be removed at now.
func abandoned(e os.DirEntry, now time.Time) bool {
	if pid, start, host, ok := owner(e.Name()); ok && e.IsDir() && host == hostTag() {
		return !running(pid, start)
	}
	info, err := e.Info()
	if err != nil {
		return false // gone already, or unreadable: leave it
	}
	return now.Sub(info.ModTime()) > AbandonedAfter
}

// cleanAbandoned removes the abandoned entries of dir.
func cleanAbandoned(dir string, now time.Time) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if abandoned(e, now) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// removeTmp removes this folder's temporary directory (on Close): the
// uploads in progress die with the server.
func (f *folder) removeTmp() error { return os.RemoveAll(f.tmp) }

// createTemp creates a temporary file in the folder's directory. Should
// the directory have gone (removed by hand, or by an older version that
// emptied .tmp at start), it is created again rather than failing every
// upload from then on.
func (f *folder) createTemp(pattern string) (*os.File, error) {
	file, err := os.CreateTemp(f.tmp, pattern)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(f.tmp, 0o755); err != nil {
			return nil, err
		}
		file, err = os.CreateTemp(f.tmp, pattern)
	}
	return file, err
}

// mkdirTemp creates dir inside the folder's directory, recreating that
// as createTemp does.
func (f *folder) mkdirTemp(dir string) error {
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(f.tmp, 0o755); err != nil {
			return err
		}
		err = os.Mkdir(dir, 0o755)
	}
	return err
}
