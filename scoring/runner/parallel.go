package runner

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallelFor calls fn(i) for every i in [0, n) on up to GOMAXPROCS
// goroutines, each taking the next i when done with its last, and
// returns when all are done. fn must only write what is its i's own, so
// the results are the same as in a loop, whatever the schedule.
func parallelFor(n int, fn func(i int)) {
	parallelForN(runtime.GOMAXPROCS(0), n, fn)
}

// parallelForN is parallelFor on up to workers goroutines.
func parallelForN(workers, n int, fn func(i int)) {
	workers = min(workers, n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}
