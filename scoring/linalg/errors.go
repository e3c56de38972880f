package linalg

import "errors"

// ErrNoConvergence is returned when an iterative decomposition fails to converge.
var ErrNoConvergence = errors.New("linalg: decomposition did not converge")
