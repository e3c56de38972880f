// Package attacktest holds the security suite of issue 14 ("What must
// hold"). It has no code of its own. Its test builds the real cortexbench
// binary once and sets up a platform with the CLI: a public and a private
// benchmark, two scored models (one named as a spreadsheet formula), users
// alice and bob (submitters), carol (maintainer) and dave (a disabled
// maintainer) with active, revoked and expired tokens, a submission by
// alice and a published snapshot. It then starts 'cortexbench serve' on
// 127.0.0.1, with the embedded S3 endpoint on its own port, and replays
// every attack of the issue against that process: anonymous and forged S3
// requests, every route of the served OpenAPI document as every kind of
// caller, a walk of every object an anonymous S3 client can name, CSV
// formula injection, the security headers, file modes and idle
// connections. Each attack is a named subtest that asserts the refusal,
// that no private byte was answered and that nothing in the store or the
// registry changed.
//
// Run it alone with
//
//	go test -count=1 ./internal/attacktest/
//
// It needs ONNX Runtime (scripts/setup.sh) to score the models; without it
// the suite is skipped.
package attacktest
