package registry_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/glebarez/go-sqlite"

	"github.com/cortexbench/cortexbench/internal/faulttest"
	"github.com/cortexbench/cortexbench/leaderboard/apierr"
	"github.com/cortexbench/cortexbench/storage/registry"
)

// SQLite's real failures are classified for the client (issue 15,
// findings 5 and 6): a database another process holds locked past the
// busy timeout is EUNAVAILABLE (503), a database on a full disk
// EINSUFFICIENTSTORAGE (507); neither is a bare internal error.
func TestSQLiteLockedAndFullClassified(t *testing.T) {
	ctx := t.Context()
	t.Run("locked", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "r.db")
		reg, err := registry.Open(ctx, registry.Config{SQLitePath: path, BusyTimeout: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer reg.Close()
		// Another process's writer holds the lock.
		other, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		conn, err := other.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			t.Fatal(err)
		}
		err = reg.CreateUser(ctx, registry.User{Name: "ada", Role: registry.RoleSubmitter})
		if err == nil || apierr.CodeOf(err) != apierr.EUNAVAILABLE {
			t.Fatalf("write while locked: %v (code %s), want unavailable", err, apierr.CodeOf(err))
		}
		conn.ExecContext(ctx, "ROLLBACK")
		if err := reg.CreateUser(ctx, registry.User{Name: "ada", Role: registry.RoleSubmitter}); err != nil {
			t.Fatalf("write once the lock is released: %v", err)
		}
	})
	t.Run("full", func(t *testing.T) {
		mnt := faulttest.Tmpfs(t, "2m")
		reg, err := registry.Open(ctx, registry.Config{SQLitePath: filepath.Join(mnt, "r.db")})
		if err != nil {
			t.Fatal(err)
		}
		defer reg.Close()
		faulttest.Fill(t, filepath.Join(mnt, "filler"))
		var werr error
		// The WAL may hold a few pages already: write until SQLite needs
		// a new one.
		for i := 0; i < 2000 && werr == nil; i++ {
			werr = reg.PutBenchmark(ctx, registry.Benchmark{ID: fmt.Sprintf("b%04d", i), Version: "v1"})
		}
		if werr == nil || apierr.CodeOf(werr) != apierr.EINSUFFICIENTSTORAGE {
			t.Fatalf("write on a full disk: %v (code %s), want insufficient_storage", werr, apierr.CodeOf(werr))
		}
	})
}
