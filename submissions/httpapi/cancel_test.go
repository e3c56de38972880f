package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/submissionstest"
	"github.com/cortexbench/cortexbench/submissions/wire"
)

// Issue 17, finding 2: POST /api/v1/submissions/{id}/cancel cancels a
// submission's queued and running jobs, for its owner or a maintainer
// only; withdrawing a model cancels the open jobs of all its
// submissions, whose status then reads "cancelled (model withdrawn)"; a
// withdrawn entry submitted again is refused, queueing nothing.
func TestCancelAndWithdrawCancelJobs(t *testing.T) {
	e := newEnv(t, submissions.Config{})
	ctx := t.Context()
	subOf := func(user string, seed uint64) wire.Accepted {
		t.Helper()
		st, eb, acc := e.submit(t, user, "tiny", submissionstest.TinyCNN(seed))
		if st != http.StatusAccepted {
			t.Fatalf("submit as %s: %d %+v", user, st, eb)
		}
		return acc
	}
	a, b, c := subOf("ada", 1), subOf("bob", 2), subOf("ada", 3)
	cancel := func(user, id string) (int, wire.ErrorBody, wire.Status) {
		var st wire.Status
		code, eb := e.do(t, user, http.MethodPost, "/api/v1/submissions/"+id+"/cancel", "", nil, &st)
		return code, eb, st
	}
	if code, eb, _ := cancel("", a.ID); code != http.StatusUnauthorized {
		t.Errorf("anonymous cancel: %d %+v, want 401", code, eb)
	}
	if code, eb, _ := cancel("bob", a.ID); code != http.StatusForbidden || !strings.Contains(eb.Message, "not yours") {
		t.Errorf("bob cancelling ada's submission: %d %+v, want 403", code, eb)
	}
	if got, _ := e.reg.GetSubmission(ctx, a.ID); got.Jobs[0].State != registry.JobQueued {
		t.Fatalf("a refused cancel changed the job: %s", got.Jobs[0].State)
	}
	code, eb, st := cancel("ada", a.ID)
	if code != http.StatusOK || st.State != "cancelled" || st.Message != "cancelled by ada" || st.Jobs[0].State != "cancelled" {
		t.Fatalf("ada cancelling her submission: %d %+v %+v", code, eb, st)
	}
	if line := wire.StateLine(st); line != "cancelled by ada" {
		t.Errorf("state line %q", line)
	}
	if code, eb, _ := cancel("ada", a.ID); code != http.StatusConflict || !strings.Contains(eb.Message, "it is cancelled") {
		t.Errorf("cancelling twice: %d %+v, want 409 naming the state", code, eb)
	}
	if code, eb, st := cancel("max", b.ID); code != http.StatusOK || st.Message != "cancelled by max" {
		t.Errorf("a maintainer cancelling bob's submission: %d %+v %+v", code, eb, st)
	}
	if code, _, _ := cancel("ada", "sub_nope"); code != http.StatusNotFound {
		t.Errorf("cancelling a missing submission: %d, want 404", code)
	}

	// Withdraw c's model by a 12-digit prefix (what 'models list' prints).
	var w wire.Withdrawn
	code, eb = e.do(t, "ada", http.MethodPost, "/api/v1/models/"+c.ModelHash[:12]+"/withdraw", "application/json",
		strings.NewReader(`{"reason":"wrong preprocessing"}`), &w)
	if code != http.StatusOK || w.Hash != c.ModelHash || !w.Withdrawn || w.By != "ada" || w.Reason != "wrong preprocessing" ||
		w.CancelledJobs != 1 || len(w.Submissions) != 1 || w.Submissions[0] != c.ID || w.At.IsZero() {
		t.Fatalf("withdraw by prefix: %d %+v %+v", code, eb, w)
	}
	var status wire.Status
	if code, eb := e.do(t, "ada", http.MethodGet, "/api/v1/submissions/"+c.ID, "", nil, &status); code != 200 ||
		status.State != "cancelled" || status.Message != "cancelled (model withdrawn)" {
		t.Errorf("status after the withdrawal: %d %+v %+v", code, eb, status)
	}
	// The withdrawn entry again: refused, naming the withdrawal; nothing queued.
	jobs := len(e.queue.jobs)
	subs, _ := e.reg.ListSubmissions(ctx, "", 0)
	st2, eb2, _ := e.submit(t, "ada", "tiny-again", submissionstest.TinyCNN(3))
	if st2 != http.StatusConflict || !strings.Contains(eb2.Message, "withdrawn on") || !strings.Contains(eb2.Message, c.ModelHash) ||
		!strings.Contains(eb2.Message, "wrong preprocessing") {
		t.Errorf("resubmitting a withdrawn entry: %d %+v, want 409 naming the withdrawal", st2, eb2)
	}
	if after, _ := e.reg.ListSubmissions(ctx, "", 0); len(after) != len(subs) || len(e.queue.jobs) != jobs {
		t.Errorf("resubmitting a withdrawn entry recorded %d submission(s), queued %d job(s)", len(after)-len(subs), len(e.queue.jobs)-jobs)
	}
}

// Issue 17, finding 10: the model routes take a unique prefix (at least 8
// hex digits) of an entry's id; an ambiguous one is 409 listing the
// candidates, a short one 400 saying what to give, an unknown one 404.
func TestModelIDPrefixes(t *testing.T) {
	e := newEnv(t, submissions.Config{})
	ctx := t.Context()
	st, eb, acc := e.submit(t, "ada", "tiny", submissionstest.TinyCNN(1))
	if st != http.StatusAccepted {
		t.Fatalf("submit: %d %+v", st, eb)
	}
	var m wire.Model
	if code, eb := e.do(t, "ada", http.MethodPatch, "/api/v1/models/"+acc.ModelHash[:8], "application/json", strings.NewReader(`{"name":"tiny-v2"}`), &m); code != 200 ||
		m.Hash != acc.ModelHash || m.Name != "tiny-v2" {
		t.Fatalf("PATCH by an 8-digit prefix: %d %+v %+v", code, eb, m)
	}
	if got, _ := e.reg.GetModel(ctx, acc.ModelHash); got.Name != "tiny-v2" {
		t.Errorf("name %q after the change", got.Name)
	}
	// Two entries sharing their first 10 digits.
	x := "0123456789" + strings.Repeat("a", 54)
	y := "0123456789" + strings.Repeat("b", 54)
	for _, h := range []string{x, y} {
		if err := e.reg.PutModel(ctx, registry.Model{Hash: h, Name: "twin-" + h[10:11], Owner: "ada"}); err != nil {
			t.Fatal(err)
		}
	}
	code, eb := e.do(t, "ada", http.MethodPatch, "/api/v1/models/0123456789", "application/json", strings.NewReader(`{"name":"which"}`), nil)
	if code != http.StatusConflict || !strings.Contains(eb.Message, x) || !strings.Contains(eb.Message, y) || len(eb.Problems) != 2 {
		t.Errorf("ambiguous prefix: %d %+v, want 409 listing both", code, eb)
	}
	if code, eb := e.do(t, "ada", http.MethodPost, "/api/v1/models/"+x[:11]+"/withdraw", "", nil, nil); code != http.StatusOK {
		t.Errorf("withdraw by a unique 11-digit prefix: %d %+v", code, eb)
	}
	if code, eb := e.do(t, "ada", http.MethodDelete, "/api/v1/models/0123456", "", nil, nil); code != http.StatusBadRequest || !strings.Contains(eb.Message, "at least 8") {
		t.Errorf("7-digit prefix: %d %+v, want 400 asking for 8", code, eb)
	}
	if code, _ := e.do(t, "ada", http.MethodDelete, "/api/v1/models/ffffffffff", "", nil, nil); code != http.StatusNotFound {
		t.Errorf("unknown prefix: %d, want 404", code)
	}
	if got, _ := e.reg.GetModel(ctx, y); got.Name != "twin-b" {
		t.Errorf("the other twin changed: %+v", got)
	}
}
