// The Go side of corio-bench: one program, one subcommand per workload.
//
// corio-bench embeds this file, builds it with `go build` into a temporary directory at run
// time, and runs it as a child process. Each timed workload does a warm-up run, then `reps`
// timed runs, and prints the median, min and max on stdout in the bench's line protocol:
//
//	RESULT value=<median> min=<min> max=<max> [key=<number> key_min=<min> key_max=<max> ...]
//	PROGRESS live=<n>
//	ERROR <why>
//
// Usage: peers <workload> <args...> (see main).
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: peers <workload> <args...>")
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "yield":
		runtime.GOMAXPROCS(1)
		timed(intArg(args, 0), intArg(args, 1), yield)
	case "spawn":
		runtime.GOMAXPROCS(2)
		timed(intArg(args, 0), intArg(args, 1), spawn)
	case "sleep":
		runtime.GOMAXPROCS(2)
		sleepWakeups(intArg(args, 0), intArg(args, 1))
	case "parked":
		runtime.GOMAXPROCS(2)
		parked(intArg(args, 0))
	case "maxlive":
		runtime.GOMAXPROCS(2)
		maxLive(intArg(args, 0))
	case "pingpong":
		runtime.GOMAXPROCS(intArg(args, 2))
		timed(intArg(args, 0), intArg(args, 1), pingpong)
	case "mpmc":
		runtime.GOMAXPROCS(2)
		rate(intArg(args, 0), intArg(args, 1), mpmc)
	case "mutex":
		runtime.GOMAXPROCS(2)
		rate(intArg(args, 0), intArg(args, 1), mutex)
	case "echo-server":
		runtime.GOMAXPROCS(1)
		echoServer(args[0])
	case "surge":
		runtime.GOMAXPROCS(2)
		surge(intArg(args, 0), intArg(args, 1), intArg(args, 2), intArg(args, 3))
	case "http-server":
		runtime.GOMAXPROCS(1)
		httpServer(args[0])
	default:
		fail("unknown workload " + os.Args[1])
	}
}

func fail(why string) {
	fmt.Printf("ERROR %s\n", why)
	os.Exit(1)
}

func intArg(args []string, i int) int {
	if i >= len(args) {
		fail("missing argument")
	}
	n, err := strconv.Atoi(args[i])
	if err != nil {
		fail(err.Error())
	}
	return n
}

func median(xs []float64) float64 {
	sort.Float64s(xs)
	m := len(xs) / 2
	if len(xs)%2 == 1 {
		return xs[m]
	}
	return (xs[m-1] + xs[m]) / 2
}

// stats formats the median, min and max of xs as result pairs: `value=M min=A max=B` for
// the key "value", `K=M K_min=A K_max=B` for any other key K.
func stats(key string, xs []float64) string {
	m := median(xs) // sorts xs
	lo, hi := key+"_min", key+"_max"
	if key == "value" {
		lo, hi = "min", "max"
	}
	return fmt.Sprintf("%s=%f %s=%f %s=%f", key, m, lo, xs[0], hi, xs[len(xs)-1])
}

// timed prints the nanoseconds per operation of `reps` runs after a warm-up (median, min, max).
func timed(ops, reps int, f func(int)) {
	f(ops)
	var samples []float64
	for i := 0; i < reps; i++ {
		start := time.Now()
		f(ops)
		samples = append(samples, float64(time.Since(start).Nanoseconds())/float64(ops))
	}
	fmt.Printf("RESULT %s\n", stats("value", samples))
}

// rate prints the operations per second of `reps` runs after a warm-up (median, min, max).
func rate(ops, reps int, f func(int)) {
	f(ops)
	var samples []float64
	for i := 0; i < reps; i++ {
		start := time.Now()
		f(ops)
		samples = append(samples, float64(ops)/time.Since(start).Seconds())
	}
	fmt.Printf("RESULT %s\n", stats("value", samples))
}

// yield: two goroutines on one P handing it back and forth; ops yields in all.
func yield(ops int) {
	var wg sync.WaitGroup
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			for i := 0; i < ops/2; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
}

// spawn: inside a goroutine, start goroutines in batches of 1000 and wait for each batch.
func spawn(ops int) {
	done := make(chan struct{})
	go func() {
		for left := ops; left > 0; left -= 1000 {
			n := left
			if n > 1000 {
				n = 1000
			}
			var wg sync.WaitGroup
			wg.Add(n)
			for i := 0; i < n; i++ {
				go wg.Done()
			}
			wg.Wait()
		}
		close(done)
	}()
	<-done
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sleepWakeups: n goroutines each sleep 1 ms; wall and CPU milliseconds until all are done.
func sleepWakeups(n, reps int) {
	once := func() (float64, float64) {
		cpu0, t0 := cpuTime(), time.Now()
		var wg sync.WaitGroup
		wg.Add(n)
		for i := 0; i < n; i++ {
			go func() {
				time.Sleep(time.Millisecond)
				wg.Done()
			}()
		}
		wg.Wait()
		return float64(time.Since(t0).Microseconds()) / 1e3, float64((cpuTime() - cpu0).Microseconds()) / 1e3
	}
	once()
	var walls, cpus []float64
	for i := 0; i < reps; i++ {
		w, c := once()
		walls = append(walls, w)
		cpus = append(cpus, c)
	}
	fmt.Printf("RESULT %s %s\n", stats("value", walls), stats("cpu_ms", cpus))
}

func rss() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fail(err.Error())
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	fail("no VmRSS")
	return 0
}

// parked: resident bytes per goroutine blocked on a channel, n of them.
func parked(n int) {
	before := rss()
	release := make(chan struct{})
	var started, finished sync.WaitGroup
	started.Add(n)
	finished.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			<-release
			finished.Done()
		}()
	}
	started.Wait()
	after := rss()
	close(release)
	finished.Wait()
	fmt.Printf("RESULT value=%f\n", float64(after-before)/float64(n))
}

// maxLive: start blocked goroutines in batches of 1000 up to limit, reporting progress.
func maxLive(limit int) {
	release := make(chan struct{})
	var started sync.WaitGroup
	live := 0
	for live < limit {
		started.Add(1000)
		for i := 0; i < 1000; i++ {
			go func() {
				started.Done()
				<-release
			}()
		}
		started.Wait()
		live += 1000
		if live%10000 == 0 {
			fmt.Printf("PROGRESS live=%d\n", live)
		}
	}
	close(release)
	fmt.Printf("RESULT value=%d\n", live)
}

// surge: RSS above the baseline `settle` seconds after n goroutines, `wave` live at once,
// each touching a `touch`-byte stack frame (64 KiB only: the frame is a fixed-size array).
func surge(n, wave, touch, settle int) {
	if touch != 64*1024 {
		fail("surge: only 64 KiB frames are built in")
	}
	runWave := func(k int) int64 {
		var live, done sync.WaitGroup
		release := make(chan struct{})
		live.Add(k)
		done.Add(k)
		for i := 0; i < k; i++ {
			go func() {
				touchStack(&live, release)
				done.Done()
			}()
		}
		live.Wait()
		peak := rss()
		close(release)
		done.Wait()
		return peak
	}
	runWave(64)
	before := rss()
	peak := before
	for left := n; left > 0; left -= wave {
		k := wave
		if left < k {
			k = left
		}
		if p := runWave(k); p > peak {
			peak = p
		}
	}
	time.Sleep(time.Duration(settle) * time.Second)
	after := rss()
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	fmt.Printf("RESULT value=%f peak_mib=%f\n", mib(after-before), mib(peak-before))
}

// touchStack writes a 64 KiB frame (growing the goroutine's stack) and parks until release.
//
//go:noinline
func touchStack(live *sync.WaitGroup, release chan struct{}) {
	var frame [64 * 1024]byte
	for i := 0; i < len(frame); i += 1024 {
		frame[i] = byte(i)
	}
	live.Done()
	<-release
	if frame[1024] == 255 {
		sink++
	}
}

var sink int

// pingpong: round trips over two unbuffered channels, driven from a goroutine.
func pingpong(ops int) {
	ping, pong, done := make(chan int), make(chan int), make(chan struct{})
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	go func() {
		for i := 0; i < ops; i++ {
			ping <- i
			<-pong
		}
		close(ping)
		close(done)
	}()
	<-done
}

// mpmc: 8 producers and 8 consumers on one channel of 1024 slots; ops messages in all.
func mpmc(ops int) {
	ch := make(chan int, 1024)
	var prod, cons sync.WaitGroup
	for p := 0; p < 8; p++ {
		prod.Add(1)
		go func() {
			for i := 0; i < ops/8; i++ {
				ch <- i
			}
			prod.Done()
		}()
	}
	for c := 0; c < 8; c++ {
		cons.Add(1)
		go func() {
			for range ch {
			}
			cons.Done()
		}()
	}
	prod.Wait()
	close(ch)
	cons.Wait()
}

// mutex: 8 goroutines incrementing one counter under sync.Mutex; ops increments in all.
func mutex(ops int) {
	var mu sync.Mutex
	counter := 0
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			for i := 0; i < ops/8; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	if counter != ops/8*8 {
		fail("lost increments")
	}
}

// echoServer: echoes 64-byte messages, one goroutine per connection.
func echoServer(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fail(err.Error())
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			continue
		}
		go func(c net.Conn) {
			defer c.Close()
			buf := make([]byte, 64)
			for {
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		}(conn)
	}
}

// httpServer: net/http answering every request with a fixed body.
func httpServer(addr string) {
	body := []byte("Hello, world!")
	h := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	}
	if err := http.ListenAndServe(addr, http.HandlerFunc(h)); err != nil {
		fail(err.Error())
	}
}
