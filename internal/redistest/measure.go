package redistest

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"
)

// ServerCPU returns the CPU the Redis server behind rc has used, user plus
// system, in seconds (INFO cpu).
func ServerCPU(t testing.TB, rc *redis.Client) float64 {
	t.Helper()
	var s float64
	for k, v := range info(t, rc, "cpu") {
		if k == "used_cpu_user" || k == "used_cpu_sys" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("INFO cpu %s: %v", k, err)
			}
			s += f
		}
	}
	return s
}

// UsedMemory returns the bytes the Redis server behind rc has allocated
// (INFO memory, used_memory).
func UsedMemory(t testing.TB, rc *redis.Client) int64 {
	t.Helper()
	v, ok := info(t, rc, "memory")["used_memory"]
	if !ok {
		t.Fatal("no used_memory in INFO memory")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("INFO memory used_memory: %v", err)
	}
	return n
}

// ProcessCPU returns the CPU this process has used, user plus system, in
// seconds.
func ProcessCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// info returns the fields of one section of INFO.
func info(t testing.TB, rc *redis.Client, section string) map[string]string {
	t.Helper()
	s, err := rc.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatalf("INFO %s: %v", section, err)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(s, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = v
		}
	}
	return fields
}

// MeasureEnv is the variable that, set to 1, runs the measurements: tests
// that fill Redis and report its memory and CPU, too slow for make test.
const MeasureEnv = "SPANLINKS_MEASURE"

// MeasureOnly skips t unless MeasureEnv is 1, naming the command that runs
// it: go test pkg -run t's name -v, with MeasureEnv set.
func MeasureOnly(t testing.TB, pkg string) {
	t.Helper()
	if os.Getenv(MeasureEnv) != "1" {
		t.Skipf("a measurement: %s=1 go test %s -run %s -v", MeasureEnv, pkg, t.Name())
	}
}
