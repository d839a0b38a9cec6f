// go_goroutines N: N goroutines blocked receiving on a channel nobody
// sends on (the Go counterpart of samples/many_tasks.c), then prints
// "go_goroutines: pid P ready N" and sleeps for good.  For
// bench/gdb_info_tasks.sh: `info goroutines` on a gcore core of it.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

var never = make(chan struct{})

//go:noinline
func parkForever(started *sync.WaitGroup) {
	started.Done()
	<-never
}

func main() {
	n := 100000
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil || v <= 0 {
			fmt.Fprintln(os.Stderr, "usage: go_goroutines N")
			os.Exit(2)
		}
		n = v
	}
	var started sync.WaitGroup
	started.Add(n)
	for i := 0; i < n; i++ {
		go parkForever(&started)
	}
	started.Wait()
	runtime.Gosched()
	fmt.Printf("go_goroutines: pid %d ready %d\n", os.Getpid(), n)
	for { // a sleeping main keeps the runtime's deadlock check quiet
		time.Sleep(time.Hour)
	}
}
