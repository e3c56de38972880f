package submissions

import (
	"errors"
	"fmt"
)

// Code classifies an error for the submitter; the HTTP adapter maps each
// code to a status in one table.
type Code string

// The error codes.
const (
	EUNAUTHORIZED Code = "unauthorized" // no token, or a token that matches nobody
	EFORBIDDEN    Code = "forbidden"    // authenticated, but not allowed
	EINVALID      Code = "invalid"      // bad metadata or a refused model file
	ETOOLARGE     Code = "too_large"    // the file is over the size limit
	ELIMIT        Code = "limit"        // daily submission limit reached
	ENOTFOUND     Code = "not_found"    // no such submission or model
	ECONFLICT     Code = "conflict"     // e.g. the user already exists
	EUNAVAILABLE  Code = "unavailable"  // e.g. no benchmark to score against
	EINTERNAL     Code = "internal"     // anything else: shown only as "internal error"
)

// Problem is one thing wrong with a submission.
type Problem struct {
	Field   string // "file", "name", "preprocessing", ...
	Kind    string // e.g. "not an ONNX model", "custom operator domain"
	Message string // what is wrong and how to fix it
}

// Error is an error meant for the submitter: its Message and Problems are
// shown as they are. Any other error is internal and shown only as
// "internal error".
type Error struct {
	Code     Code
	Message  string
	Problems []Problem
}

func (e *Error) Error() string {
	if len(e.Problems) == 0 {
		return e.Message
	}
	s := e.Message
	for _, p := range e.Problems {
		s += "\n  - " + p.Message
	}
	return s
}

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err: the Code of an *Error in its chain,
// EINTERNAL otherwise.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns what may be shown to a client: the message of an
// *Error, "internal error" for anything else.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "internal error"
}

// ErrorProblems returns the problems listed by an *Error in err's chain.
func ErrorProblems(err error) []Problem {
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Problems
	}
	return nil
}
