// kv_server [PORT [FLUSH_MS [FILE]]]: the Go twin of samples/kv_server.c,
// standard library only, for the line count in bench/RESULTS.md.  Same
// protocol (SET k v / GET k / DEL k; OK, the value, NOTFOUND, ERR), same
// flush (the map as `k v` lines every FLUSH_MS, replaced atomically), same
// stats to a logger through a channel, same SIGTERM shutdown (stop
// accepting, close the connections, wait for them, flush once more, exit 0).
package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var (
	mu   sync.RWMutex
	kv   = map[string]string{}
	nops int64
)

type stat struct{ conns, keys, ops int }

func handle(c net.Conn) {
	r, w := bufio.NewReaderSize(c, 1024), bufio.NewWriter(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		atomic.AddInt64(&nops, 1)
		f := strings.SplitN(strings.TrimRight(line, "\r\n"), " ", 3)
		reply := "ERR"
		switch {
		case len(f) == 2 && f[0] == "GET":
			mu.RLock()
			v, ok := kv[f[1]]
			mu.RUnlock()
			if reply = "NOTFOUND"; ok {
				reply = v
			}
		case len(f) == 2 && f[0] == "DEL":
			mu.Lock()
			_, ok := kv[f[1]]
			delete(kv, f[1])
			mu.Unlock()
			if reply = "NOTFOUND"; ok {
				reply = "OK"
			}
		case len(f) == 3 && f[0] == "SET":
			mu.Lock()
			kv[f[1]] = f[2]
			mu.Unlock()
			reply = "OK" // acknowledged only now that the map holds it
		}
		fmt.Fprintf(w, "%s\n", reply)
		if r.Buffered() == 0 && w.Flush() != nil {
			return
		}
	}
}

// flush replaces path with the map: a temporary file, synced, renamed over it.
func flush(path string) error {
	var b bytes.Buffer
	mu.RLock()
	for k, v := range kv {
		fmt.Fprintf(&b, "%s %s\n", k, v)
	}
	mu.RUnlock()
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp.")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err = tmp.Write(b.Bytes()); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if d, derr := os.Open(filepath.Dir(path)); err == nil && derr == nil {
		err = d.Sync()
		d.Close()
	}
	return err
}

func arg(i int, def string) string {
	if len(os.Args) > i {
		return os.Args[i]
	}
	return def
}

func main() {
	ms, _ := strconv.Atoi(arg(2, "100"))
	path := arg(3, "kv.db")
	ln, err := net.Listen("tcp", "127.0.0.1:"+arg(1, "0"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "kv_server:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	fmt.Printf("kv_server: pid %d ready port %d\n", os.Getpid(), ln.Addr().(*net.TCPAddr).Port)

	var connMu sync.Mutex
	conns := map[net.Conn]bool{}
	stats := make(chan stat, 16)
	go func() { // stats, every second, and once more when stopped
		defer close(stats)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for ctx.Err() == nil {
			select {
			case <-t.C:
			case <-ctx.Done():
			}
			connMu.Lock()
			mu.RLock()
			s := stat{len(conns), len(kv), int(atomic.LoadInt64(&nops))}
			mu.RUnlock()
			connMu.Unlock()
			stats <- s
		}
	}()
	logged := make(chan bool)
	go func() { // the logger
		for s := range stats {
			fmt.Fprintf(os.Stderr, "kv_server: %d conns, %d keys, %d requests\n", s.conns, s.keys, s.ops)
		}
		close(logged)
	}()
	drained, flushed := make(chan bool), make(chan error)
	go func() { // the flusher, every ms, and once more when drained
		t := time.NewTicker(time.Duration(ms) * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if err := flush(path); err != nil {
					fmt.Fprintln(os.Stderr, "kv_server:", err)
				}
			case <-drained:
				flushed <- flush(path)
				return
			}
		}
	}()

	go func() { <-ctx.Done(); ln.Close() }()
	var wg sync.WaitGroup
	var rest time.Duration // Accept failing at once (no descriptors): 5 ms doubling to 1 s, as net/http
	for {
		c, err := ln.Accept()
		if ctx.Err() != nil {
			break
		} else if err != nil {
			if rest = 2 * rest; rest == 0 {
				rest = 5 * time.Millisecond
			} else if rest > time.Second {
				rest = time.Second
			}
			select {
			case <-time.After(rest):
			case <-ctx.Done():
			}
			continue
		}
		rest = 0
		connMu.Lock()
		conns[c] = true
		connMu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			handle(c)
			connMu.Lock()
			delete(conns, c)
			connMu.Unlock()
			c.Close()
		}()
	}
	connMu.Lock()
	for c := range conns {
		c.Close()
	}
	connMu.Unlock()
	wg.Wait()
	close(drained)
	err = <-flushed
	<-logged
	if err != nil {
		fmt.Fprintln(os.Stderr, "kv_server:", err)
		os.Exit(1)
	}
}
