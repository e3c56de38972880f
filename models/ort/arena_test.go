package ort

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/preprocess"
)

// TestSharedArena runs TestSharedArenaChild in two child processes (the
// environment and its arena are process-wide), one with the shared arena
// and one with an arena per session, and checks that
//   - the values extracted are the same bit for bit;
//   - with the shared arena, a second session's first pass touches few
//     new pages (it reuses the first session's, whose layers are larger):
//     at most a third of the faults of the first session's first pass.
//     With an arena per session each first pass touches its own pages
//     (62,000–97,000 and 69,000–78,000 faults for these two sets of 20
//     layers on 48 images, against 93,000–97,000 and 15,000–20,000
//     shared; 2026-12-05), so the check fails without the shared arena.
func TestSharedArena(t *testing.T) {
	if os.Getenv("CORTEXBENCH_ARENA_CHILD") != "" {
		t.Skip("in the child")
	}
	sharedDir(t)
	runtime(t) // the library is there
	type result struct {
		shared         bool
		faultA, faultB int64
		hash           string
	}
	child := func(mode string) result {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestSharedArenaChild$", "-test.v", "-test.count", "1")
		cmd.Env = append(os.Environ(), "CORTEXBENCH_ARENA_CHILD="+mode)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child (%s): %v\n%s", mode, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if i := strings.Index(line, "ARENA "); i >= 0 {
				var r result
				if _, err := fmt.Sscanf(line[i:], "ARENA shared=%t faultsA=%d faultsB=%d hash=%s", &r.shared, &r.faultA, &r.faultB, &r.hash); err != nil {
					t.Fatalf("child (%s): %q: %v", mode, line, err)
				}
				t.Logf("%s arenas: shared=%t, first-pass page faults %d (first session), %d (second)", mode, r.shared, r.faultA, r.faultB)
				return r
			}
		}
		t.Fatalf("child (%s) printed no result:\n%s", mode, out)
		return result{}
	}
	sh, pr := child("shared"), child("private")
	if !sh.shared || pr.shared {
		t.Fatalf("shared arena in use: %t with it, %t without", sh.shared, pr.shared)
	}
	if sh.hash != pr.hash {
		t.Errorf("values differ: %s with the shared arena, %s with arenas per session", sh.hash, pr.hash)
	}
	if sh.faultA == 0 || pr.faultA == 0 {
		// Else the check below would pass on a fault count that failed.
		t.Fatalf("no page faults counted for a first session's first pass (%d shared, %d private): getrusage failed", sh.faultA, pr.faultA)
	}
	if sh.faultB*3 > sh.faultA {
		t.Errorf("with the shared arena the second session's first pass faulted %d pages, the first's %d: want at most a third", sh.faultB, sh.faultA)
	}
}

// TestSharedArenaChild extracts two sets of 20 MobileNetV2 layers on 48
// Cowley images, in two sessions, the first kept open while the second
// runs (as a run holds its sessions), and prints the page faults of each
// session's first pass and a hash of every value; then it checks that
// the shared arena is let go with the last session.
func TestSharedArenaChild(t *testing.T) {
	z, c, layers := arenaChild(t, "TestSharedArena")
	z.Limit(48)
	all := perStimulus(layers)
	every := func(from int) []models.Layer {
		var out []models.Layer
		for i := from; i < len(all); i += 12 {
			out = append(out, all[i])
		}
		return out
	}
	digests := map[string][32]byte{}
	var faults [2]int64
	inUse := true
	var open []*Extractor
	for s, set := range [][]models.Layer{every(5), every(11)} {
		e, err := runtime(t).NewExtractor(c, models.MobileNetV2Float, set, Options{PoolTo: 4096})
		if err != nil {
			t.Fatal(err)
		}
		f0 := minorFaults()
		err = e.Run(context.Background(), z, models.ConsumerFunc(func(_ context.Context, l models.Layer, first int, rows [][]float32) error {
			h := sha256.New()
			for _, r := range rows {
				for _, v := range r {
					binary.Write(h, binary.LittleEndian, v)
				}
			}
			digests[fmt.Sprintf("%s/%d", l.ID, first)] = [32]byte(h.Sum(nil))
			return nil
		}), nil)
		faults[s] = minorFaults() - f0
		inUse = inUse && e.sharedArena
		// Both stay open, as a run holds its sessions.
		open = append(open, e)
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range open {
		e.Close()
	}
	// The arena is let go with the last session.
	env.Lock()
	live, registered := env.live, env.shared
	env.Unlock()
	if live != 0 || registered {
		t.Errorf("after every session closed: %d open, shared arena still registered: %t", live, registered)
	}
	keys := make([]string, 0, len(digests))
	for k := range digests {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		d := digests[k]
		h.Write([]byte(k))
		h.Write(d[:])
	}
	fmt.Printf("ARENA shared=%t faultsA=%d faultsB=%d hash=%x\n", inUse, faults[0], faults[1], h.Sum(nil))
}

func minorFaults() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Minflt
}

// BenchmarkSharedArena times what a run does with its sessions, in child
// processes alternating the shared arena and an arena per session: four
// sessions held open in turn (the model's output on 400 Cowley images, all
// 240 MobileNetV2 layers on 92, 20 layers on 400, L167.Clip alone on 400),
// two passes each, all pooled to 4096. It reports both modes' wall and
// CPU time and peak RSS, and shared/private for each.
func BenchmarkSharedArena(b *testing.B) {
	sharedDir(b)
	runtime(b)
	var sum [2][3]float64 // shared, private × wall, cpu, peak MiB
	for range b.N {
		for k, mode := range []string{"shared", "private"} {
			cmd := exec.Command(os.Args[0], "-test.run", "^TestArenaSessionsChild$", "-test.count", "1")
			cmd.Env = append(os.Environ(), "CORTEXBENCH_ARENA_CHILD="+mode)
			out, err := cmd.CombinedOutput()
			if err != nil {
				b.Fatalf("child (%s): %v\n%s", mode, err, out)
			}
			var w, c, rss float64
			i := strings.Index(string(out), "SESSIONS ")
			if i < 0 {
				b.Fatalf("child (%s) printed no result:\n%s", mode, out)
			}
			if _, err := fmt.Sscanf(string(out[i:]), "SESSIONS wall=%g cpu=%g peak=%g", &w, &c, &rss); err != nil {
				b.Fatal(err)
			}
			sum[k][0] += w
			sum[k][1] += c
			sum[k][2] = max(sum[k][2], rss)
		}
	}
	n := float64(b.N)
	b.ReportMetric(sum[0][0]/n, "shared-s")
	b.ReportMetric(sum[1][0]/n, "private-s")
	b.ReportMetric(sum[0][1]/n, "shared-cpu-s")
	b.ReportMetric(sum[1][1]/n, "private-cpu-s")
	b.ReportMetric(sum[0][2], "shared-peak-MiB")
	b.ReportMetric(sum[1][2], "private-peak-MiB")
	b.ReportMetric(sum[0][0]/sum[1][0], "wall-shared/private")
	b.ReportMetric(sum[0][2]/sum[1][2], "peak-shared/private")
}

// TestArenaSessionsChild is BenchmarkSharedArena's child.
func TestArenaSessionsChild(t *testing.T) {
	z, c, layers := arenaChild(t, "BenchmarkSharedArena")
	all := perStimulus(layers)
	var twenty, l167 []models.Layer
	for i := 11; i < len(all); i += 12 {
		twenty = append(twenty, all[i])
	}
	for _, l := range all {
		if l.ID == "L167.Clip" {
			l167 = append(l167, l)
		}
	}
	var open []*Extractor
	defer func() {
		for _, e := range open {
			e.Close()
		}
	}()
	cpu0, t0 := cpuTime(), time.Now()
	for _, s := range []struct {
		layers []models.Layer
		n      int
	}{{outputLayers(layers), 400}, {all, 92}, {twenty, 400}, {l167, 400}} {
		z.Limit(s.n)
		e, err := runtime(t).NewExtractor(c, models.MobileNetV2Float, s.layers, Options{PoolTo: 4096, Overlap: true})
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, e)
		for range 2 {
			if err := e.Run(context.Background(), z, nop(s.layers), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("SESSIONS wall=%g cpu=%g peak=%g\n", time.Since(t0).Seconds(), cpuTime()-cpu0, float64(ru.Maxrss)/1024)
}

// arenaChild sets up a child of parent: the arena mode its environment
// variable names (skipped outside a child), one Cowley session's images
// (cowley; closed when t ends) and MobileNetV2 with its layers.
func arenaChild(t *testing.T, parent string) (*preprocess.Zip, *onnxmodel.Checked, []models.Layer) {
	mode := os.Getenv("CORTEXBENCH_ARENA_CHILD")
	if mode == "" {
		t.Skip("run by " + parent)
	}
	privateArenas = mode == "private"
	z := cowley(t)
	t.Cleanup(func() { z.Close() })
	c, layers := mobileNetV2(t, sharedDir(t))
	return z, c, layers
}
