package apierr_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/cortexbench/cortexbench/leaderboard/apierr"
)

func TestStatusTable(t *testing.T) {
	for code, want := range map[apierr.Code]int{
		apierr.EINVALID: 400, apierr.EUNAUTHORIZED: 401, apierr.EFORBIDDEN: 403, apierr.ENOTFOUND: 404,
		apierr.ECONFLICT: 409, apierr.EGONE: 410, apierr.ETOOLARGE: 413, apierr.EUNSUPPORTED: 422, apierr.ELIMIT: 429,
		apierr.EINTERNAL: 500, apierr.EUNAVAILABLE: 503, apierr.EINSUFFICIENTSTORAGE: 507, "no such code": 500,
	} {
		if got := apierr.Status(code); got != want {
			t.Errorf("Status(%s) = %d, want %d", code, got, want)
		}
	}
}

func TestWrappedAndInternal(t *testing.T) {
	err := fmt.Errorf("read: %w: %w", apierr.Errorf(apierr.ENOTFOUND, "no model %s", "x"), context.Canceled)
	if apierr.CodeOf(err) != apierr.ENOTFOUND || apierr.MessageOf(err) != "no model x" || apierr.StatusOf(err) != http.StatusNotFound {
		t.Errorf("wrapped: %s %q %d", apierr.CodeOf(err), apierr.MessageOf(err), apierr.StatusOf(err))
	}
	secret := fmt.Errorf("dial db: password hunter2")
	if apierr.CodeOf(secret) != apierr.EINTERNAL || apierr.MessageOf(secret) != "internal error" || apierr.ProblemsOf(secret) != nil {
		t.Errorf("internal error leaks: %s %q", apierr.CodeOf(secret), apierr.MessageOf(secret))
	}
	if apierr.CodeOf(nil) != "" {
		t.Errorf("CodeOf(nil) = %q", apierr.CodeOf(nil))
	}
}
