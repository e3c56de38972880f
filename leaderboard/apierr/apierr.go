// Package apierr is the platform's one error vocabulary: the codes an
// error shown to a client may carry, the application error that carries
// one (with the problems a refused submission lists), and the one table
// that maps each code to an HTTP status.
//
// It imports the standard library only, and sits under leaderboard, the
// lowest layer that answers clients: the leaderboard and everything above
// it (submissions, cmd) share it. Layers below (scoring, benchmarks,
// models, storage) return their own sentinel errors (benchmarks.ErrNotFound,
// objstore.ErrNotFound, ...), wrapped with %w, which the layer that serves
// a client maps to a code here. Failures of the infrastructure itself (a
// full disk, an unreachable database) are recognised in their error
// chains by Classify, the one place that maps them, so every layer only
// has to keep the cause wrapped.
package apierr

import (
	"errors"
	"fmt"
	"net/http"
)

// Code classifies an error for the client.
type Code string

// The error codes. Each maps to one HTTP status in Status.
const (
	EINVALID      Code = "invalid"      // bad input from the caller (metadata, query, a refused model file)
	ENOTFOUND     Code = "not_found"    // no such model, benchmark, RDM or submission
	EFORBIDDEN    Code = "forbidden"    // exists, but private or not the caller's
	EUNAUTHORIZED Code = "unauthorized" // no token, or a token that matches nobody
	// EUNSUPPORTED: the resource exists but the operation does not apply
	// to it (comparisons of an encoding benchmark).
	EUNSUPPORTED Code = "unsupported"
	ETOOLARGE    Code = "too_large"   // the file is over the size limit
	ELIMIT       Code = "limit"       // daily submission limit reached
	ECONFLICT    Code = "conflict"    // e.g. the user already exists
	EGONE        Code = "gone"        // it existed and was withdrawn (a model, issue 17)
	EUNAVAILABLE Code = "unavailable" // e.g. no benchmark to score against, the registry database unreachable
	// EINSUFFICIENTSTORAGE: the server ran out of disk space (or quota)
	// while storing what the request sent; nothing was stored.
	EINSUFFICIENTSTORAGE Code = "insufficient_storage"
	EINTERNAL            Code = "internal" // anything else: details never reach a client
)

// statusOf maps each code to its HTTP status: the one table.
var statusOf = map[Code]int{
	EINVALID:      http.StatusBadRequest,
	ENOTFOUND:     http.StatusNotFound,
	EFORBIDDEN:    http.StatusForbidden,
	EUNAUTHORIZED: http.StatusUnauthorized,
	// 422: the request is well formed and names a resource, which cannot
	// be processed this way (e.g. comparisons of an encoding benchmark).
	EUNSUPPORTED: http.StatusUnprocessableEntity,
	ETOOLARGE:    http.StatusRequestEntityTooLarge,
	ELIMIT:       http.StatusTooManyRequests,
	ECONFLICT:    http.StatusConflict,
	EGONE:        http.StatusGone,
	EUNAVAILABLE: http.StatusServiceUnavailable,
	// 507 (RFC 4918): the server cannot store what the request needs.
	EINSUFFICIENTSTORAGE: http.StatusInsufficientStorage,
	EINTERNAL:            http.StatusInternalServerError,
}

// Known reports whether c is one of the codes.
func Known(c Code) bool {
	_, ok := statusOf[c]
	return ok
}

// Status returns the HTTP status of code c: 500 for EINTERNAL and for an
// unknown code.
func Status(c Code) int {
	if st, ok := statusOf[c]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// StatusOf returns the HTTP status for err.
func StatusOf(err error) int { return Status(CodeOf(err)) }

// Problem is one thing wrong with a request (a submission lists every
// problem found in its model file and metadata).
type Problem struct {
	Field   string // "file", "name", "preprocessing", ...
	Kind    string // e.g. "not an ONNX model", "custom operator domain"
	Message string // what is wrong and how to fix it
}

// Error is an error meant for the client: its Message and Problems are
// shown as they are. Any other error is internal and shown only as
// "internal error".
type Error struct {
	Code     Code
	Message  string
	Problems []Problem
}

func (e *Error) Error() string {
	s := e.Message
	for _, p := range e.Problems {
		s += "\n  - " + p.Message
	}
	return s
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// CodeOf returns the code of the *Error in err's chain; for any other
// error the code Classify finds (a full disk, an unreachable database),
// else EINTERNAL; "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if c := Classify(err); c != "" {
		return c
	}
	return EINTERNAL
}

// MessageOf returns what may be shown to a client: the message of the
// *Error in err's chain; for an infrastructure failure Classify
// recognises, a fixed message saying what happened and what to do (never
// the details, which name paths and hosts); "internal error" for anything
// else and for EINTERNAL.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e.Code != EINTERNAL {
			return e.Message
		}
		return "internal error"
	}
	switch Classify(err) {
	case EINSUFFICIENTSTORAGE:
		return MsgInsufficientStorage
	case EUNAVAILABLE:
		return MsgUnavailable
	}
	return "internal error"
}

// ProblemsOf returns the problems listed by the *Error in err's chain
// (none for an internal error).
func ProblemsOf(err error) []Problem {
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Problems
	}
	return nil
}
