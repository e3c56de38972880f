package httpapi

import (
	"context"
	"regexp"
	"strings"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/apierr"
)

var idPrefixRE = regexp.MustCompile(`^[0-9a-fA-F]{8,64}$`)

// resolveModel returns the full id of the listed model named by id, its
// id or a unique prefix of at least 8 hex digits (issue 17, finding 10):
// EINVALID for a malformed id, ECONFLICT listing the candidates of an
// ambiguous prefix, EGONE for a withdrawn model (when the source tells),
// ENOTFOUND otherwise.
func (s *Server) resolveModel(ctx context.Context, st *state, id string) (string, error) {
	if !idPrefixRE.MatchString(id) {
		return "", leaderboard.Errorf(leaderboard.EINVALID, "model id %q is malformed: want the model entry's id (64 lowercase hex digits) or a unique prefix of it of at least 8, as the leaderboard and 'cortexbench models list' show them", id)
	}
	p := strings.ToLower(id)
	if _, ok := st.ix.Model(p); ok {
		return p, nil
	}
	var found []leaderboard.ModelInfo
	if len(p) < 64 {
		for _, m := range st.ix.Models() {
			if strings.HasPrefix(m.Hash, p) {
				found = append(found, m)
			}
		}
	}
	switch {
	case len(found) == 1:
		return found[0].Hash, nil
	case len(found) > 1:
		names := make([]string, 0, min(len(found), 10))
		for _, m := range found[:min(len(found), 10)] {
			names = append(names, m.Hash+" ("+m.Name+")")
		}
		return "", leaderboard.Errorf(apierr.ECONFLICT, "model id prefix %q matches %d models; give more digits of one of: %s", id, len(found), strings.Join(names, ", "))
	}
	if w, ok := s.src.(leaderboard.Withdrawals); ok {
		m, gone, err := w.WithdrawnModel(ctx, p)
		if err != nil {
			return "", err
		}
		if gone {
			by := "a maintainer"
			if m.ByOwner {
				by = "its owner"
			}
			reason := ""
			if strings.TrimSpace(m.Reason) != "" {
				reason = ": " + m.Reason
			}
			return "", leaderboard.Errorf(apierr.EGONE, "model %s (%s) was withdrawn on %s by %s%s", m.Hash, m.Name, m.At.UTC().Format("2006-01-02"), by, reason)
		}
	}
	return "", leaderboard.Errorf(leaderboard.ENOTFOUND, "no model with id %s; list them at /api/v1/models", id)
}
