// Package faulttest gives tests real faults to run into (issue 15): a
// small file system that really fills up (a tmpfs mounted for the test),
// and a throwaway PostgreSQL cluster that a test can stop and start.
// Both need root (CI runs as root on a fresh VM); a test that cannot get
// them is skipped with a message saying why.
package faulttest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Tmpfs mounts a tmpfs of the given size (e.g. "2m") on a new directory
// and returns it; it is unmounted when the test ends. The test is skipped
// when mounting is not permitted.
func Tmpfs(t testing.TB, size string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0755", "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("a full file system needs a tmpfs, and mounting one was refused (run as root): %v: %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// Fill writes a file at path until the file system is full and returns
// its path; removing it frees the space again.
func Fill(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("fill: %v", err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	// Small writes too, so not even a block is left.
	for {
		if _, err := f.Write(buf[:1]); err != nil {
			break
		}
	}
	return path
}

// Postgres is a throwaway PostgreSQL cluster in a temporary directory,
// listening on a free loopback port.
type Postgres struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	as   []string // runuser -u postgres -- when root (initdb refuses root)
}

// StartPostgres initdbs and starts a cluster for the test, with database
// "cortexbench_test"; it is stopped and removed when the test ends. The
// test is skipped when PostgreSQL's binaries are not installed.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		t.Skip("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl): scripts/setup.sh --test installs it")
	}
	sort.Slice(bins, func(i, j int) bool { return version(bins[i]) < version(bins[j]) })
	p := &Postgres{t: t, bin: filepath.Dir(bins[len(bins)-1])}
	dir, err := os.MkdirTemp("", "cortexbench-faultpg-")
	if err != nil {
		t.Fatal(err)
	}
	p.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "postgres:", dir).CombinedOutput(); err != nil {
			t.Skipf("no postgres user to run PostgreSQL as: %v: %s", err, out)
		}
		p.as = []string{"runuser", "-u", "postgres", "--"}
	}
	if p.port, err = freePort(); err != nil {
		t.Fatal(err)
	}
	p.run("initdb", "-D", p.data(), "-U", "cortexbench", "--auth=trust", "-E", "UTF8")
	p.Start()
	t.Cleanup(func() { p.stop(false) })
	p.run("createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(p.port), "-U", "cortexbench", "cortexbench_test")
	return p
}

func version(pgctl string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(pgctl))))
	return v
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (p *Postgres) data() string { return filepath.Join(p.dir, "data") }

func (p *Postgres) run(name string, args ...string) {
	p.t.Helper()
	cmd := append(append([]string(nil), p.as...), append([]string{filepath.Join(p.bin, name)}, args...)...)
	out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("%s: %v\n%s", strings.Join(cmd, " "), err, out)
	}
}

// DSN is the cluster's connection string.
func (p *Postgres) DSN() string {
	return fmt.Sprintf("postgres://cortexbench@127.0.0.1:%d/cortexbench_test?sslmode=disable", p.port)
}

// Start starts the cluster (again) and waits until it accepts connections.
func (p *Postgres) Start() {
	p.t.Helper()
	p.run("pg_ctl", "-D", p.data(), "-l", filepath.Join(p.dir, "server.log"), "-w", "-t", "30",
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.port, p.dir), "start")
}

// Stop stops the cluster (fast shutdown: open sessions are ended, as in
// an operator's restart or a crash of the database host).
func (p *Postgres) Stop() {
	p.t.Helper()
	p.stop(true)
}

func (p *Postgres) stop(mustRun bool) {
	cmd := append(append([]string(nil), p.as...), filepath.Join(p.bin, "pg_ctl"), "-D", p.data(), "-m", "fast", "-w", "-t", "30", "stop")
	out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput()
	if err != nil && mustRun {
		p.t.Fatalf("stop PostgreSQL: %v\n%s", err, out)
	}
}
