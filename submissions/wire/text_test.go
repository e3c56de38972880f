package wire_test

import (
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/submissions/wire"
)

func TestText(t *testing.T) {
	for s, want := range map[float64]string{30: "~30 s", 600: "~10 min", 9000: "~2.5 h"} {
		if got := wire.FormatSeconds(s); got != want {
			t.Errorf("FormatSeconds(%g) = %q, want %q", s, got, want)
		}
	}
	if got := wire.FormatBytes(3 << 30); got != "3.0 GiB" {
		t.Errorf("FormatBytes = %q", got)
	}
	st := wire.Status{ID: "sub_1", State: "failed", FailureClass: "bad model", Message: "re-export it",
		Jobs: []wire.Job{{Position: 1, BenchmarkID: "b", State: "failed", FailureClass: "bad model", Message: "re-export it", Attempt: 1}}}
	var b strings.Builder
	wire.PrintStatus(&b, st)
	for _, want := range []string{"submission sub_1: failed: bad model", "why: re-export it", "bad model: re-export it"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}
