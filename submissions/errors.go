package submissions

import "github.com/cortexbench/cortexbench/leaderboard/apierr"

// The error vocabulary is the platform's one, package apierr (shared with
// the leaderboard, with one HTTP status table); it is re-exported here for
// the service's callers.
type (
	// Code classifies an error for the submitter.
	Code = apierr.Code
	// Problem is one thing wrong with a submission.
	Problem = apierr.Problem
	// Error is an error meant for the submitter: its Message and Problems
	// are shown as they are. Any other error is internal and shown only as
	// "internal error".
	Error = apierr.Error
)

// The error codes the service returns.
const (
	EUNAUTHORIZED = apierr.EUNAUTHORIZED // no token, or a token that matches nobody
	EFORBIDDEN    = apierr.EFORBIDDEN    // authenticated, but not allowed
	EINVALID      = apierr.EINVALID      // bad metadata or a refused model file
	ETOOLARGE     = apierr.ETOOLARGE     // the file is over the size limit
	ELIMIT        = apierr.ELIMIT        // daily submission limit reached
	ENOTFOUND     = apierr.ENOTFOUND     // no such submission or model
	ECONFLICT     = apierr.ECONFLICT     // e.g. the user already exists
	EUNAVAILABLE  = apierr.EUNAVAILABLE  // e.g. no benchmark to score against
	EINTERNAL     = apierr.EINTERNAL     // anything else: shown only as "internal error"
)

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return apierr.Errorf(code, format, args...)
}

// ErrorCode returns the code of err: the Code of an *Error in its chain,
// EINTERNAL otherwise.
func ErrorCode(err error) Code { return apierr.CodeOf(err) }

// ErrorMessage returns what may be shown to a client: the message of an
// *Error, "internal error" for anything else.
func ErrorMessage(err error) string { return apierr.MessageOf(err) }

// ErrorProblems returns the problems listed by an *Error in err's chain.
func ErrorProblems(err error) []Problem { return apierr.ProblemsOf(err) }
