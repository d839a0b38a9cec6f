// Channel ping-pong and sync.Mutex contention in Go, the same workloads as
// bench/sync_bench.c (see there); run with GOMAXPROCS=2.  Prints one line:
//
//	go-pP WORKLOAD n=OPS ns=TOTAL ns_per_op=X
//
// where P is GOMAXPROCS.  usage: gosync pingpong [N] | mutex [K M]
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

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
	default:
		fmt.Fprintln(os.Stderr, "usage: gosync pingpong [N] | mutex [K M]")
		os.Exit(2)
	}
	fmt.Printf("go-p%d %s n=%d ns=%d ns_per_op=%.1f\n", procs, what, ops, ns,
		float64(ns)/float64(ops))
}
