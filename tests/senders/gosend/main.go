// gosend: one UDP request (net.Dial + Write + Read) or one TCP connect
// (net.DialTimeout) from Go, whose sockets are always non-blocking under
// its runtime poller, reporting what the sender saw and what it cost.
//
//	gosend udp|tcp HOST PORT MSG TIMEOUT
//
// The connection's deadline is TIMEOUT s after the start (UDP: for the
// Write and the Read; TCP: DialTimeout, then the echo).  Prints
// "start T" (wall clock) at once, "connected T" when a TCP connect
// completed, and "result R elapsed S cpu C calls 1" at the end, as
// tests/senders/csend.c does (R: ok, timeout, or the errno name).
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

var start = time.Now()

func cpu() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

var names = map[syscall.Errno]string{
	syscall.EAGAIN: "EAGAIN", syscall.EPIPE: "EPIPE", syscall.ECONNREFUSED: "ECONNREFUSED",
	syscall.ECONNRESET: "ECONNRESET", syscall.ECONNABORTED: "ECONNABORTED",
	syscall.EHOSTUNREACH: "EHOSTUNREACH", syscall.ENETUNREACH: "ENETUNREACH",
	syscall.ETIMEDOUT: "ETIMEDOUT", syscall.EPERM: "EPERM", syscall.EINVAL: "EINVAL",
}

func result(r string, rc int, cpu0 float64) {
	fmt.Printf("result %s elapsed %.3f cpu %.3f calls 1\n", r, time.Since(start).Seconds(), cpu()-cpu0)
	os.Exit(rc)
}

func outcome(err error, cpu0 float64) {
	var ne net.Error
	var en syscall.Errno
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		result("timeout", 3, cpu0)
	case errors.As(err, &en):
		name, ok := names[en]
		if !ok {
			name = fmt.Sprintf("errno%d", int(en))
		}
		fmt.Fprintln(os.Stderr, "gosend:", err)
		result(name, 2, cpu0)
	default:
		fmt.Fprintln(os.Stderr, "gosend:", err)
		result("error", 2, cpu0)
	}
}

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: gosend udp|tcp HOST PORT MSG TIMEOUT")
		os.Exit(64)
	}
	proto, addr, msg := os.Args[1], net.JoinHostPort(os.Args[2], os.Args[3]), os.Args[4]
	secs, err := strconv.ParseFloat(os.Args[5], 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gosend: bad TIMEOUT")
		os.Exit(64)
	}
	timeout := time.Duration(secs * float64(time.Second))
	cpu0 := cpu()
	fmt.Printf("start %.6f\n", float64(time.Now().UnixNano())/1e9)
	var conn net.Conn
	if proto == "udp" {
		conn, err = net.Dial("udp", addr)
	} else {
		conn, err = net.DialTimeout("tcp", addr, timeout)
		if err == nil {
			fmt.Printf("connected %.6f\n", float64(time.Now().UnixNano())/1e9)
		}
	}
	if err != nil {
		outcome(err, cpu0)
	}
	conn.SetDeadline(start.Add(timeout))
	if _, err = conn.Write([]byte(msg)); err != nil {
		outcome(err, cpu0)
	}
	buf := make([]byte, 2048)
	if _, err = conn.Read(buf); err != nil {
		outcome(err, cpu0)
	}
	result("ok", 0, cpu0)
}
