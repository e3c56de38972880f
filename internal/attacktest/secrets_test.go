package attacktest

import (
	"bytes"
	"encoding/base64"
	"math"
	"strconv"
	"strings"
	"testing"
)

// secrets are the byte strings no answer to an attacker may contain: the
// private benchmark's stimuli (bytes, names, blob hashes), its RDM file
// and values (per subject and averaged, as JSON or CSV would print them),
// the models' RDMs on it, the per-layer profiles of the scores on it, the
// model files, the API tokens and the S3 secret key.
type secrets struct {
	what  []string
	needs [][]byte
}

func newSecrets() *secrets { return &secrets{} }

func (s *secrets) add(what, v string) {
	if v == "" {
		return
	}
	s.what = append(s.what, what)
	s.needs = append(s.needs, []byte(v))
}

// addBytes adds b raw and base64-encoded (as JSON would carry bytes).
func (s *secrets) addBytes(what string, b []byte) {
	s.add(what, string(b))
	s.add(what+" (base64)", base64.StdEncoding.EncodeToString(b))
}

// numberForms are the distinctive ways x is printed: shortest float64
// and float32 forms, and 10 significant digits; short forms ("0.5") occur
// in any text and are left out.
func numberForms(x float64) []string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	var out []string
	for _, f := range []string{
		strconv.FormatFloat(x, 'g', -1, 64),
		strconv.FormatFloat(x, 'g', -1, 32),
		strconv.FormatFloat(x, 'g', 10, 64),
	} {
		digits := strings.TrimLeft(strings.TrimPrefix(f, "-"), "0.")
		if len(digits) >= 8 {
			out = append(out, f)
		}
	}
	return out
}

func (s *secrets) addNumber(what string, x float64) {
	for _, f := range numberForms(x) {
		s.add(what+" as "+f, f)
	}
}

// leak returns what secret body contains, or "".
func (s *secrets) leak(body []byte) string {
	for i, n := range s.needs {
		if bytes.Contains(body, n) {
			return s.what[i]
		}
	}
	return ""
}

// noLeak fails t if body contains a secret.
func (s *secrets) noLeak(t *testing.T, what string, body []byte) {
	t.Helper()
	if w := s.leak(body); w != "" {
		t.Errorf("%s answers a private byte string (%s): %.300q", what, w, body)
	}
}
