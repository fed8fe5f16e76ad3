package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// redisServer is a redis-server process on a free loopback port.
type redisServer struct {
	addr string
	args []string
	cmd  *exec.Cmd
	t    *testing.T
}

// startRedis starts redis-server with args on a free loopback port, and
// stops it when the test ends. Without redis-server the test skips, naming
// the command that installs it, unless SPANLINKS_REQUIRE_REDIS=1.
func startRedis(t *testing.T, args ...string) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("SPANLINKS_REQUIRE_REDIS") == "1" {
			t.Fatal("redis-server is not installed and SPANLINKS_REQUIRE_REDIS=1: apt-get install -y redis-server")
		}
		t.Skip("SKIP (redis-server not installed): install it with `apt-get install -y redis-server`")
	}
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	r := &redisServer{addr: addr, t: t, args: append([]string{"--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log")}, args...)}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", r.args...)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("starting redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if reply, err := redisDo(r.addr, "PING"); err == nil && reply == "PONG" {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on %s did not answer PING", r.addr)
		}
		<-time.After(20 * time.Millisecond)
	}
}

// stop kills the server: a crash, not a shutdown.
func (r *redisServer) stop() {
	if r.cmd != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
		r.cmd = nil
	}
}

// redisDo sends one command and returns its reply's first line (a simple
// string, an error, an integer) or its bulk string.
func redisDo(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	rd := bufio.NewReader(c)
	line, err := rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("%s: %s", args[0], line[1:])
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return line, nil
}

// startRedisCluster starts n cluster-enabled redis-servers and joins them
// into one Redis Cluster of n masters.
func startRedisCluster(t *testing.T, n int) []*redisServer {
	t.Helper()
	var nodes []*redisServer
	for i := range n {
		nodes = append(nodes, startRedis(t, "--cluster-enabled", "yes",
			"--cluster-config-file", fmt.Sprintf("nodes-%d.conf", i), "--cluster-node-timeout", "5000"))
	}
	per := 16384 / n
	for i, r := range nodes {
		hi := (i+1)*per - 1
		if i == n-1 {
			hi = 16383
		}
		if _, err := redisDo(r.addr, "CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(i*per), strconv.Itoa(hi)); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			host, port, _ := net.SplitHostPort(r.addr)
			if _, err := redisDo(nodes[0].addr, "CLUSTER", "MEET", host, port); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, r := range nodes {
		for {
			info, err := redisDo(r.addr, "CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d", n)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the cluster is not ok after 30s: %v %s", err, info)
			}
			<-time.After(50 * time.Millisecond)
		}
	}
	return nodes
}
