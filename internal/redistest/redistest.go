// Package redistest starts real redis-server processes for tests, on free
// loopback ports, and stops them when the test ends: a standalone server or
// a Redis Cluster of several masters. Without redis-server on the PATH the
// tests that need it skip, naming the command that installs it, unless
// SPANLINKS_REQUIRE_REDIS=1 asks them to fail instead.
package redistest

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Install is the command that installs redis-server.
const Install = "apt-get install -y redis-server"

// RequireEnv is the variable that, set to 1, makes missing redis-server a
// failure instead of a skip.
const RequireEnv = "SPANLINKS_REQUIRE_REDIS"

// Server is one redis-server process.
type Server struct {
	Addr string // 127.0.0.1:port
	t    testing.TB
	dir  string
	args []string
	cmd  *exec.Cmd
	tls  *tls.Config // for a server that listens with TLS only
}

// binary returns the path of redis-server, or skips (or fails) t.
func binary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("redis-server is not installed and %s=1: install it with `%s`", RequireEnv, Install)
		}
		t.Skipf("SKIP (redis-server not installed): install it with `%s`", Install)
	}
	return p
}

// Available reports whether redis-server is installed. When it is not, it
// logs the command that installs it and returns false, unless RequireEnv
// is 1, in which case it fails t.
func Available(t testing.TB) bool {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("redis-server is not installed and %s=1: install it with `%s`", RequireEnv, Install)
		}
		t.Logf("SKIP the Redis cases (redis-server not installed): install it with `%s`", Install)
		return false
	}
	return true
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start starts a standalone redis-server on a free loopback port, with
// extra configuration args (such as "--requirepass", "secret"), and stops
// it when t ends.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	binary(t)
	return start(t, args)
}

func start(t testing.TB, extra []string) *Server {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	s := &Server{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		t:    t,
		dir:  dir,
		args: append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log")}, extra...),
	}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// Restart starts the server again on the same port, after Stop; it is empty.
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		return
	}
	s.cmd = exec.Command(binary(s.t), s.args...)
	var stderr bytes.Buffer
	s.cmd.Stdout, s.cmd.Stderr = &stderr, &stderr
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting redis-server on %s: %v", s.Addr, err)
	}
	ready := func() error { return waitReady(s.Addr, s.password()) }
	if s.tls != nil {
		ready = func() error { return tlsReady(s.Addr, s.tls) }
	}
	if err := ready(); err != nil {
		s.Stop()
		log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
		s.t.Fatalf("redis-server on %s did not answer PING: %v\n%s%s", s.Addr, err, stderr.String(), log)
	}
}

// Stop kills the server and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Pause stops the server's process without ending it (SIGSTOP): it accepts
// connections but answers nothing, as a Redis that is overloaded.
func (s *Server) Pause() {
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGSTOP)
	}
}

// Resume lets a paused server run again (SIGCONT).
func (s *Server) Resume() {
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
	}
}

// password returns the --requirepass of s's args, if any.
func (s *Server) password() string {
	for i, a := range s.args {
		if a == "--requirepass" && i+1 < len(s.args) {
			return s.args[i+1]
		}
	}
	return ""
}

// Client returns a client of s, closed when the test ends.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, Password: s.password()})
	s.t.Cleanup(func() { c.Close() })
	return c
}

// waitReady waits up to 10s for addr to answer PING.
func waitReady(addr, password string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, Password: password, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Cluster is a Redis Cluster of masters only.
type Cluster struct {
	Servers []*Server
}

// Addrs returns the masters' addresses.
func (c *Cluster) Addrs() []string {
	var a []string
	for _, s := range c.Servers {
		a = append(a, s.Addr)
	}
	return a
}

// StartCluster starts n cluster-enabled redis-servers on free loopback
// ports, joins them into one Redis Cluster with the slots spread evenly,
// waits until the cluster state is ok, and stops them when t ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	binary(t)
	c := &Cluster{}
	for i := range n {
		s := start(t, []string{"--cluster-enabled", "yes",
			"--cluster-config-file", fmt.Sprintf("nodes-%d.conf", i), "--cluster-node-timeout", "5000"})
		c.Servers = append(c.Servers, s)
	}
	ctx := context.Background()
	first := redis.NewClient(&redis.Options{Addr: c.Servers[0].Addr})
	defer first.Close()
	per := 16384 / n
	for i, s := range c.Servers {
		cl := redis.NewClient(&redis.Options{Addr: s.Addr})
		lo, hi := i*per, (i+1)*per-1
		if i == n-1 {
			hi = 16383
		}
		if err := cl.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			t.Fatalf("CLUSTER ADDSLOTSRANGE %d %d on %s: %v", lo, hi, s.Addr, err)
		}
		cl.Close()
		if i > 0 {
			host, port, _ := net.SplitHostPort(s.Addr)
			if err := first.Do(ctx, "CLUSTER", "MEET", host, port).Err(); err != nil {
				t.Fatalf("CLUSTER MEET %s: %v", s.Addr, err)
			}
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range c.Servers {
		cl := redis.NewClient(&redis.Options{Addr: s.Addr})
		for {
			info, err := cl.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", n)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster on %v not ok after 30s: %v %s", c.Addrs(), err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		cl.Close()
	}
	return c
}
