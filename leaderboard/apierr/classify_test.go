package apierr_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cortexbench/cortexbench/leaderboard/apierr"
)

// sqliteError has the shape of the pure-Go SQLite drivers' errors.
type sqliteError struct {
	msg  string
	code int
}

func (e *sqliteError) Error() string { return e.msg }
func (e *sqliteError) Code() int     { return e.code }

// Infrastructure failures get their own codes and fixed messages (issue
// 15, findings 5 and 6); the details never reach the client.
func TestClassify(t *testing.T) {
	refused := func() error {
		// A real refused dial: listen, close, dial the freed port.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			t.Skip("the freed port was taken again")
		}
		return err
	}()
	full := &fs.PathError{Op: "write", Path: "/srv/store/.tmp/object-1", Err: syscall.ENOSPC}
	for _, c := range []struct {
		name string
		err  error
		want apierr.Code
	}{
		{"ENOSPC", fmt.Errorf("put models/x.onnx: %w", full), apierr.EINSUFFICIENTSTORAGE},
		{"EDQUOT", &os.SyscallError{Syscall: "write", Err: syscall.EDQUOT}, apierr.EINSUFFICIENTSTORAGE},
		{"SQLite full", fmt.Errorf("registry: %w", &sqliteError{"database or disk is full (13) (SQLITE_FULL)", 13}), apierr.EINSUFFICIENTSTORAGE},
		{"PostgreSQL disk_full", &pgconn.PgError{Code: "53100", Message: "could not extend file"}, apierr.EINSUFFICIENTSTORAGE},
		{"connection refused", fmt.Errorf("registry: get user: %w", refused), apierr.EUNAVAILABLE},
		{"admin shutdown", fmt.Errorf("registry: %w", &pgconn.PgError{Severity: "FATAL", Code: "57P01"}), apierr.EUNAVAILABLE},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, apierr.EUNAVAILABLE},
		{"connection exception", &pgconn.PgError{Code: "08006"}, apierr.EUNAVAILABLE},
		{"SQLite busy", &sqliteError{"database is locked (5) (SQLITE_BUSY)", 5}, apierr.EUNAVAILABLE},
		{"SQLite busy snapshot", &sqliteError{"database is locked (517) (SQLITE_BUSY_SNAPSHOT)", 517}, apierr.EUNAVAILABLE},
		{"SQLite full, no name", &sqliteError{"database or disk is full (13)", 13}, apierr.EINSUFFICIENTSTORAGE},
		{"deadline connecting", fmt.Errorf("failed to connect to `user=x`: %w", context.DeadlineExceeded), apierr.EUNAVAILABLE},
		// Not infrastructure: internal as before.
		{"unique violation", &pgconn.PgError{Code: "23505"}, apierr.EINTERNAL},
		{"other deadline", fmt.Errorf("score: %w", context.DeadlineExceeded), apierr.EINTERNAL},
		{"SQLite constraint", &sqliteError{"constraint failed (19) (SQLITE_CONSTRAINT)", 19}, apierr.EINTERNAL},
		{"Code() of something else", &sqliteError{"five", 5}, apierr.EINTERNAL},
		{"plain", errors.New("no space here"), apierr.EINTERNAL},
		// An *Error's own code wins.
		{"apierr wins", fmt.Errorf("%w: %w", apierr.Errorf(apierr.EINVALID, "bad"), full), apierr.EINVALID},
	} {
		if got := apierr.CodeOf(c.err); got != c.want {
			t.Errorf("%s: CodeOf(%v) = %s, want %s", c.name, c.err, got, c.want)
		}
		msg := apierr.MessageOf(c.err)
		switch c.want {
		case apierr.EINSUFFICIENTSTORAGE:
			if msg != apierr.MsgInsufficientStorage || apierr.StatusOf(c.err) != http.StatusInsufficientStorage {
				t.Errorf("%s: %q %d", c.name, msg, apierr.StatusOf(c.err))
			}
		case apierr.EUNAVAILABLE:
			if msg != apierr.MsgUnavailable || apierr.StatusOf(c.err) != http.StatusServiceUnavailable {
				t.Errorf("%s: %q %d", c.name, msg, apierr.StatusOf(c.err))
			}
		case apierr.EINTERNAL:
			if msg != "internal error" {
				t.Errorf("%s: message %q", c.name, msg)
			}
		}
		if strings.Contains(msg, "/srv/store") || strings.Contains(msg, "127.0.0.1") {
			t.Errorf("%s: message leaks details: %q", c.name, msg)
		}
	}
	if !strings.Contains(apierr.MsgInsufficientStorage, "nothing was stored") || !strings.Contains(apierr.MsgInsufficientStorage, "operator") {
		t.Errorf("the 507 message must say nothing was stored and to tell the operator: %q", apierr.MsgInsufficientStorage)
	}
}

// A real connection attempt to a PostgreSQL address that accepts but never
// answers, cut by the caller's deadline: unavailable, as a refused one.
func TestClassifyConnectDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // silent until the test ends
		}
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	conn, err := pgconn.Connect(ctx, "postgres://x@"+ln.Addr().String()+"/db?sslmode=disable")
	if err == nil {
		conn.Close(t.Context())
		t.Fatal("connected to a silent listener")
	}
	if got := apierr.CodeOf(fmt.Errorf("registry: get user: %w", err)); got != apierr.EUNAVAILABLE {
		t.Errorf("CodeOf(%v) = %s, want unavailable", err, got)
	}
}
