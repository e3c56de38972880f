package onnxmodel_test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
	"github.com/cortexbench/cortexbench/models/ort"
	"github.com/cortexbench/cortexbench/models/ort/ortchild"
)

func TestMain(m *testing.M) {
	// The benchmark's validation child (ortchild) re-executes this binary.
	ortchild.MainIfChild()
	os.Exit(m.Run())
}

var (
	benchRTOnce sync.Once
	benchRT     *ort.Runtime
	benchRTErr  error
)

// benchRuntime opens ONNX Runtime from third_party (or
// CORTEXBENCH_ONNXRUNTIME_LIB), as the ort tests do.
func benchRuntime(b *testing.B) *ort.Runtime {
	benchRTOnce.Do(func() {
		cfg := ort.DefaultConfig()
		cfg.LibraryPath = os.Getenv("CORTEXBENCH_ONNXRUNTIME_LIB")
		if cfg.LibraryPath == "" {
			cfg.LibraryPath = filepath.Join("..", "..", ort.DefaultLibraryPath)
		}
		benchRT, benchRTErr = ort.Open(cfg)
	})
	if benchRTErr != nil {
		b.Skip(benchRTErr)
	}
	return benchRT
}

// procStatus reads a "Vm…: N kB" line of /proc/self/status, in bytes.
func procStatus(key string) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) >= 2 && string(f[0]) == key+":" {
			v, _ := strconv.ParseFloat(string(f[1]), 64)
			return v * 1024
		}
	}
	return 0
}

// BenchmarkValidateBombs validates each bomb of issue 14 with ONNX
// Runtime, in this process and (child/…) in a child process as the server
// does (ortchild, default limits), and reports time per op, the extra peak RSS of the process
// (VmHWM after, with the peak reset before, minus VmRSS before: includes
// ONNX Runtime's native memory), the Go heap allocated (TotalAlloc) and
// the growth of the heap reserved (HeapSys). The bound: under 300
// MB extra RSS and 5 s per bomb. The accepted 128M ConstantOfShape and
// the ort-only case (static limit raised, so that a 1G ConstantOfShape
// reaches ONNX Runtime) show that the session made for validation does
// not fold constants.
func BenchmarkValidateBombs(b *testing.B) {
	rt := benchRuntime(b)
	child, err := ortchild.New(ortchild.Config{Command: []string{os.Args[0]}, Library: rt.LibraryPath()})
	if err != nil {
		b.Fatal(err)
	}
	loose := onnxmodel.DefaultConfig()
	loose.MaxGeneratedElements, loose.MaxElements = 1<<40, 1<<40
	type tc struct {
		name string
		data []byte
		cfg  onnxmodel.Config
		rt   onnxmodel.Runtime
	}
	var cases []tc
	for _, bomb := range onnxtest.Bombs() {
		cases = append(cases, tc{bomb.Name, bomb.Data, onnxmodel.DefaultConfig(), rt})
	}
	cases = append(cases, tc{"ort_only/constant_of_shape_1G", onnxtest.ConstantOfShapeBomb(1<<15, 1<<15), loose, rt})
	for _, c := range cases[:len(cases):len(cases)] {
		c.name, c.rt = "child/"+c.name, child
		cases = append(cases, c)
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // reset VmHWM
			rss := procStatus("VmRSS")
			b.ResetTimer()
			var err error
			for range b.N {
				_, err = onnxmodel.Validate(c.data, c.cfg, c.rt)
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			b.ReportMetric((procStatus("VmHWM")-rss)/(1<<20), "peakRSS-MB")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/(1<<20), "alloc-MB/op")
			b.ReportMetric((float64(after.HeapSys)-float64(before.HeapSys))/(1<<20), "heapSys+MB")
			b.ReportMetric(float64(len(c.data))/(1<<10), "file-KiB")
			if err != nil {
				b.Logf("refused: %.200s", err)
			} else {
				b.Logf("accepted")
			}
		})
	}
}

// BenchmarkTopoOrderReverse64k sorts 64k Relu nodes stored in reverse
// order (12-19 s with the old quadratic sort).
func BenchmarkTopoOrderReverse64k(b *testing.B) {
	m, err := onnxmodel.Parse(onnxtest.ReluChain(64 << 10))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := onnxmodel.TopoOrder(m.GetGraph()); err != nil {
			b.Fatal(err)
		}
	}
}
