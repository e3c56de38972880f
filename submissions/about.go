package submissions

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

// About is what a submitter says about a model for people (issue 17):
// the paper it comes from, a description, its licence and a BibTeX entry
// to cite. Every field is optional. The limits are in characters
// (description, licence) or bytes (BibTeX, paper).
type About struct {
	Paper       string // an https URL
	Description string // plain text, at most MaxDescriptionChars
	License     string // an SPDX id ("MIT", "Apache-2.0") or free text, at most MaxLicenseChars
	BibTeX      string // one entry, "@article{key, ...}", at most MaxBibTeXBytes
}

// The limits of About's fields.
const (
	MaxPaperBytes       = 2048
	MaxDescriptionChars = 2000
	MaxLicenseChars     = 100
	MaxBibTeXBytes      = 10 << 10
)

var bibtexStart = regexp.MustCompile(`^@[A-Za-z]+\s*[{(]`)

// checkAbout returns every problem with a's fields.
func checkAbout(a About) []Problem {
	var probs []Problem
	bad := func(field, kind, format string, args ...any) {
		probs = append(probs, Problem{Field: field, Kind: kind, Message: fmt.Sprintf(format, args...)})
	}
	// Control characters other than newlines and tabs (descriptions and
	// BibTeX are multi-line; the paper and licence are one line).
	control := func(v string, multiline bool) bool {
		return strings.ContainsFunc(v, func(r rune) bool {
			if multiline && (r == '\n' || r == '\r' || r == '\t') {
				return false
			}
			return r < 0x20 || r == 0x7f
		})
	}
	text := func(field, v string, multiline bool) bool {
		if !utf8.ValidString(v) || control(v, multiline) {
			what := "one line of UTF-8 text without control characters"
			if multiline {
				what = "UTF-8 text without control characters other than newlines and tabs"
			}
			bad(field, "bad characters", "%s must be %s", field, what)
			return false
		}
		return true
	}
	if p := a.Paper; p != "" {
		u, err := url.Parse(p)
		switch {
		case len(p) > MaxPaperBytes:
			bad("paper", "too long", "paper is %d bytes, over the limit of %d: give the paper's landing page or DOI URL", len(p), MaxPaperBytes)
		case !text("paper", p, false):
		case err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil:
			bad("paper", "bad url", "paper %q is not an https URL: give the paper's address, e.g. https://arxiv.org/abs/1512.03385 or https://doi.org/10.1109/CVPR.2016.90", p)
		}
	}
	if d := a.Description; d != "" && text("description", d, true) {
		if n := utf8.RuneCountInString(d); n > MaxDescriptionChars {
			bad("description", "too long", "description is %d characters, over the limit of %d: shorten it (link the paper for the details)", n, MaxDescriptionChars)
		}
	}
	if l := a.License; l != "" && text("license", l, false) {
		if n := utf8.RuneCountInString(l); n > MaxLicenseChars {
			bad("license", "too long", "license is %d characters, over the limit of %d: give its SPDX id (e.g. MIT, Apache-2.0, CC-BY-4.0) or a link", n, MaxLicenseChars)
		}
	}
	if b := a.BibTeX; b != "" {
		switch {
		case len(b) > MaxBibTeXBytes:
			bad("bibtex", "too long", "bibtex is %d bytes, over the limit of %d: give one entry", len(b), MaxBibTeXBytes)
		case !text("bibtex", b, true):
		case !bibtexStart.MatchString(strings.TrimSpace(b)):
			bad("bibtex", "not bibtex", "bibtex must be one BibTeX entry starting with @type{key, e.g. @article{he2016deep, title={...}, author={...}, year={2016}}")
		case strings.Count(b, "{") != strings.Count(b, "}"):
			bad("bibtex", "not bibtex", "bibtex has %d '{' and %d '}': the braces must balance", strings.Count(b, "{"), strings.Count(b, "}"))
		}
	}
	return probs
}
