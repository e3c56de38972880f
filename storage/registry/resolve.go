package registry

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// MinIDPrefix is the shortest prefix of a model entry's id accepted for
// the id (issue 17, finding 10: 'models list' prints 12 hex digits).
const MinIDPrefix = 8

// ErrAmbiguous is the error of an id prefix that matches several models
// (see AmbiguousError).
var ErrAmbiguous = errors.New("ambiguous model id prefix")

// AmbiguousError is a model id prefix that matches several models.
type AmbiguousError struct {
	Prefix     string
	Candidates []Model // at most maxCandidates, by id
	More       bool    // more models match than Candidates lists
}

func (e *AmbiguousError) Error() string {
	var b strings.Builder
	n := fmt.Sprint(len(e.Candidates))
	if e.More {
		n = "more than " + n
	}
	fmt.Fprintf(&b, "model id prefix %q matches %s models; give more digits of one of:", e.Prefix, n)
	for _, m := range e.Candidates {
		fmt.Fprintf(&b, " %s (%s)", m.Hash, m.Name)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrAmbiguous) hold.
func (e *AmbiguousError) Is(target error) bool { return target == ErrAmbiguous }

// maxCandidates bounds the candidates an ambiguous prefix lists.
const maxCandidates = 10

var hexPrefix = regexp.MustCompile(`^[0-9a-f]+$`)

// ResolveModelID returns the full id (64 hex digits) of the model entry
// whose id starts with prefix, at least MinIDPrefix lowercase hex digits
// (uppercase is accepted and lowered). A full id is returned as it is when
// the model exists. No match is ErrNotFound; several an *AmbiguousError
// (ErrAmbiguous) listing them; a malformed prefix ErrInvalidArgument.
// Withdrawn models resolve too (their owner may still read or change them).
func (r *Registry) ResolveModelID(ctx context.Context, prefix string) (string, error) {
	p := strings.ToLower(strings.TrimSpace(prefix))
	if len(p) < MinIDPrefix || len(p) > 64 || !hexPrefix.MatchString(p) {
		return "", fmt.Errorf("registry: resolve model id: %w", invalid(
			"model id %q must be the entry's id or a unique prefix of it: %d to 64 hex digits (as 'cortexbench models list' prints them)", prefix, MinIDPrefix))
	}
	var rows []modelRow
	// A hex prefix holds no LIKE wildcard.
	if err := r.db.WithContext(ctx).Where("hash LIKE ?", p+"%").Order("hash").Limit(maxCandidates + 1).Find(&rows).Error; err != nil {
		return "", fmt.Errorf("registry: resolve model id %s: %w", p, err)
	}
	switch len(rows) {
	case 0:
		return "", fmt.Errorf("registry: no model with id %s…: %w", p, ErrNotFound)
	case 1:
		return rows[0].Hash, nil
	}
	e := &AmbiguousError{Prefix: p}
	for i, row := range rows {
		if i == maxCandidates {
			e.More = true
			break
		}
		e.Candidates = append(e.Candidates, row.toModel())
	}
	return "", e
}
