package apierr

import (
	"context"
	"database/sql/driver"
	"errors"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The messages of the infrastructure failures Classify recognises: what
// happened, what was (not) kept, and what to do.
const (
	MsgInsufficientStorage = "the server is out of storage space: nothing was stored. " +
		"Retry later, and tell the server's operator (the disk or quota of its store is full)"
	MsgUnavailable = "a service this server depends on (its registry database) is unreachable right now: the request was not carried out. " +
		"Retry in a little while (see Retry-After); if this persists, tell the server's operator"
)

// RetryAfter is the Retry-After sent with EUNAVAILABLE when the error
// names no time of its own: about how long a database restart or
// fail-over takes.
const RetryAfter = 10 * time.Second

// Classify returns the code of an infrastructure failure in err's chain
// that is not the client's fault and not a bug: EINSUFFICIENTSTORAGE for a
// full disk or quota anywhere on the write path (ENOSPC, EDQUOT, an object
// store's objstore.ErrInsufficientStorage, which wraps ENOSPC, SQLite's
// "database or disk is full", PostgreSQL's disk_full), EUNAVAILABLE for a
// registry database that cannot be reached or is held by another writer
// (connection refused or reset, a failed dial, a deadline while
// connecting, PostgreSQL
// shutting down or refusing connections, SQLite busy or locked past its
// busy timeout). It returns "" for anything else.
//
// This is the one place such errors are mapped to codes. It knows the
// drivers only through the methods their errors have (SQLState() string
// of pgconn.PgError, Code() int of the SQLite driver's error), so apierr
// keeps importing the standard library only.
func Classify(err error) Code {
	switch {
	case err == nil:
		return ""
	case outOfSpace(err):
		return EINSUFFICIENTSTORAGE
	case unreachable(err):
		return EUNAVAILABLE
	}
	return ""
}

// SQLite's primary result codes (the low byte of an extended code).
const (
	sqliteBusy   = 5
	sqliteLocked = 6
	sqliteFull   = 13
)

func outOfSpace(err error) bool {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	if st := sqlState(err); st == "53100" { // disk_full
		return true
	}
	c, ok := sqliteCode(err)
	return ok && c == sqliteFull
}

func unreachable(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, driver.ErrBadConn) {
		return true
	}
	// A deadline while connecting (pgconn.ConnectError says "failed to
	// connect to ..."); other deadlines are the caller's business.
	if errors.Is(err, context.DeadlineExceeded) && strings.Contains(err.Error(), "connect") {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	st := sqlState(err)
	switch {
	case strings.HasPrefix(st, "08"): // connection_exception
		return true
	case st == "57P01", st == "57P02", st == "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
		return true
	case st == "53300": // too_many_connections
		return true
	}
	c, ok := sqliteCode(err)
	return ok && (c == sqliteBusy || c == sqliteLocked)
}

// sqlState returns the SQLSTATE of a PostgreSQL error in err's chain
// (pgconn.PgError has SQLState), "" when there is none.
func sqlState(err error) string {
	var e interface {
		error
		SQLState() string
	}
	if errors.As(err, &e) {
		return e.SQLState()
	}
	return ""
}

// sqliteCode returns the primary result code of a SQLite error in err's
// chain: an error with Code() int whose message ends its text with the
// code in parentheses, as the pure-Go drivers' errors do ("database is
// locked (5) (SQLITE_BUSY)", "database or disk is full (13)").
func sqliteCode(err error) (int, bool) {
	var e interface {
		error
		Code() int
	}
	if errors.As(err, &e) && strings.Contains(e.Error(), "("+strconv.Itoa(e.Code())+")") {
		return e.Code() & 0xff, true
	}
	return 0, false
}
