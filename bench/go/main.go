// Channel ping-pong and sync.Mutex contention in Go, the same workloads as
// bench/sync_bench.c (see there); run with GOMAXPROCS=2.  Prints one line:
//
//	go-pP WORKLOAD n=OPS ns=TOTAL ns_per_op=X
//
// where P is GOMAXPROCS.  usage: gosync pingpong [N] | mutex [K M]
// | spawnjoin [ROUNDS [BATCH]] | burst [N] | mem [N]
//
// spawnjoin and burst are bench/bench_runtime.c's spawn-join and burst: a
// goroutine per task, a buffered channel of one as its join handle.  mem
// parks N goroutines behind a 3-deep call chain on a channel nobody sends
// on and prints the RSS they add (bytes_per_task=), like the C and tokio
// twins.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func spawnjoin(rounds, batch int) int {
	sum := 0
	handles := make([]chan int, batch)
	for r := 0; r < rounds; r++ {
		for i := 0; i < batch; i++ {
			h := make(chan int, 1)
			handles[i] = h
			go func(i int) { h <- i }(i)
		}
		for i := 0; i < batch; i++ {
			sum += <-handles[i]
		}
	}
	return sum
}

func burst(n int) int {
	handles := make([]chan int, n)
	for i := 0; i < n; i++ {
		h := make(chan int, 1)
		handles[i] = h
		go func(i int) { h <- i }(i)
	}
	sum := 0
	for i := 0; i < n; i++ {
		sum += <-handles[i]
	}
	return sum
}

var parked int64

//go:noinline
func middle(never chan struct{}) int {
	atomic.AddInt64(&parked, 1)
	<-never
	return 1
}

//go:noinline
func outer(never chan struct{}) int { return middle(never) + 1 }

func rssKB() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		panic(err)
	}
	f := strings.Fields(string(b))
	v, _ := strconv.ParseInt(f[1], 10, 64)
	return v * 4
}

func mem(n int) {
	never := make(chan struct{})
	before := rssKB()
	for i := 0; i < n; i++ {
		go outer(never)
	}
	for atomic.LoadInt64(&parked) < int64(n) {
		time.Sleep(5 * time.Millisecond)
	}
	after := rssKB()
	fmt.Printf("go-p%d mem n=%d rss_before_kb=%d rss_after_kb=%d bytes_per_task=%.1f\n",
		runtime.GOMAXPROCS(0), n, before, after, float64(after-before)*1024/float64(n))
	os.Exit(0)
}

func arg(i int, def int) int {
	if len(os.Args) > i {
		if v, err := strconv.Atoi(os.Args[i]); err == nil {
			return v
		}
	}
	return def
}

func pingpong(n int) int {
	a := make(chan int, 1)
	b := make(chan int, 1)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // pong
		defer wg.Done()
		for v := range a {
			b <- v
		}
	}()
	r := 0
	go func() { // ping
		defer wg.Done()
		for i := 0; i < n; i++ {
			a <- i
			if got := <-b; got != i {
				panic("pingpong: wrong value")
			}
			r++
		}
		close(a)
	}()
	wg.Wait()
	return r
}

func contend(k, m int) int {
	var mu sync.Mutex
	counter := 0
	var wg sync.WaitGroup
	wg.Add(k)
	for j := 0; j < k; j++ {
		go func() {
			defer wg.Done()
			for i := 0; i < m; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return counter
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gosync pingpong [N] | mutex [K M]")
		os.Exit(2)
	}
	procs := runtime.GOMAXPROCS(0)
	var what string
	var ops int
	var ns int64
	switch os.Args[1] {
	case "pingpong":
		n := arg(2, 200000)
		t0 := time.Now()
		r := pingpong(n)
		ns = time.Since(t0).Nanoseconds()
		if r != n {
			panic("pingpong: short")
		}
		what, ops = "pingpong", n
	case "mutex":
		k, m := arg(2, 16), arg(3, 20000)
		t0 := time.Now()
		r := contend(k, m)
		ns = time.Since(t0).Nanoseconds()
		if r != k*m {
			panic("mutex: lost updates")
		}
		what, ops = "mutex", k*m
	case "spawnjoin":
		rounds, batch := arg(2, 200), arg(3, 1000)
		t0 := time.Now()
		r := spawnjoin(rounds, batch)
		ns = time.Since(t0).Nanoseconds()
		if r != rounds*batch*(batch-1)/2 {
			panic("spawnjoin: wrong sum")
		}
		what, ops = "spawnjoin", rounds*batch
	case "burst":
		n := arg(2, 100000)
		t0 := time.Now()
		r := burst(n)
		ns = time.Since(t0).Nanoseconds()
		if r != n*(n-1)/2 {
			panic("burst: wrong sum")
		}
		what, ops = "burst", n
	case "mem":
		mem(arg(2, 1000000))
	default:
		fmt.Fprintln(os.Stderr, "usage: gosync pingpong [N] | mutex [K M] | spawnjoin [ROUNDS [BATCH]] | burst [N] | mem [N]")
		os.Exit(2)
	}
	fmt.Printf("go-p%d %s n=%d ns=%d ns_per_op=%.1f\n", procs, what, ops, ns,
		float64(ns)/float64(ops))
}
