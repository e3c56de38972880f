package models

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
)

// A model entry is one ONNX file scored with one preprocessing spec: the
// same file with another spec is another entry, with its own scores. Its
// ID is derived from both, so it cannot be claimed by different content:
//
//	EntryID = hex(sha256("cortexbench model entry v1\x00" + file sha256 + "\x00" + spec.String()))
//
// file sha256 is the lowercase hex sha256 of the ONNX file and
// spec.String() the canonical text of the spec (Spec.Canonical). The ID
// is 64 lowercase hex digits, like a file hash, so it goes wherever a model
// hash went before (score keys, the registry database, API routes).
//
// An entry with declared layer commitments (region → layer, issue 16) is
// another entry again, since they change its scores (EntryIDFor):
//
//	hex(sha256("cortexbench model entry v1\x00" + file sha256 + "\x00" + spec.String() + "\x00commitments\x00" + CommitmentsString(c)))
//
// With no commitments it is EntryID: every existing entry keeps its ID.
const entryDomain = "cortexbench model entry v1\x00"

// EntryID returns the ID of the model entry (file, spec); fileSHA256 is the
// lowercase hex sha256 of the ONNX file.
func EntryID(fileSHA256 string, spec Spec) string {
	h := sha256.New()
	h.Write([]byte(entryDomain))
	h.Write([]byte(fileSHA256))
	h.Write([]byte{0})
	h.Write([]byte(spec.String()))
	return hex.EncodeToString(h.Sum(nil))
}

// EntryIDFor returns the ID of the model entry (file, spec, declared
// commitments); with none (nil or empty) it is EntryID(fileSHA256, spec).
// The commitments are hashed in their canonical text (CommitmentsString),
// so the map's order does not matter.
func EntryIDFor(fileSHA256 string, spec Spec, commitments map[string]string) string {
	if len(commitments) == 0 {
		return EntryID(fileSHA256, spec)
	}
	h := sha256.New()
	h.Write([]byte(entryDomain))
	h.Write([]byte(fileSHA256))
	h.Write([]byte{0})
	h.Write([]byte(spec.String()))
	h.Write([]byte("\x00commitments\x00"))
	h.Write([]byte(CommitmentsString(commitments)))
	return hex.EncodeToString(h.Sum(nil))
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// IsSHA256Hex reports whether s is 64 lowercase hex digits (a file hash or
// an entry ID).
func IsSHA256Hex(s string) bool { return sha256Hex.MatchString(s) }
