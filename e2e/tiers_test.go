package e2e

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The two tiers of the tail-sampling recipe, started with the files shipped
// in examples/tail-sampling: the addresses, windows and the probabilistic
// share come from the environment variables those files read.
const (
	tier1Config = "../examples/tail-sampling/spanlinks.yaml"
	tier2Config = "../examples/tail-sampling/tailsampling.yaml"
	// recordPolicyGate makes tier 2 write the name of the policy that kept
	// a trace onto its spans' scope (tailsampling.policy).
	recordPolicyGate = "processor.tailsamplingprocessor.recordpolicy"
)

func tailSamplingBinary(t *testing.T) string {
	return binary(t, "TAILSAMPLING_BIN", "../dist/tailsampling/otelcol-tailsampling", "make build-tail-sampling")
}

// tierTiming is what a test chooses of the two tiers' timing.
type tierTiming struct {
	window       time.Duration // tier 1: backlinks.window
	decisionWait time.Duration // tier 2: tail_sampling decision_wait
	tier1Args    []string      // more arguments of tier 1, e.g. --set
}

// tiers is the spanlinks tier in front of the tail-sampling tier, which
// exports to a sink of the test.
type tiers struct {
	spanlinks    *collector // tier 1: the SDK sends here (grpcAddr, httpAddr)
	tailSampling *collector // tier 2
}

// startTiers starts tier 2, exporting to s, then tier 1, exporting to tier
// 2, on free loopback ports, and waits until both are ready.
func startTiers(t *testing.T, s *sink, tm tierTiming) tiers {
	t.Helper()
	ts := &collector{grpcAddr: freeAddr(t)}
	tsMetricsPort := metricsPort(t, ts)
	cmd, shown := tierCommand(t, tailSamplingBinary(t), tier2Config, []string{
		"TAILSAMPLING_OTLP_GRPC=" + ts.grpcAddr,
		"TAILSAMPLING_DECISION_WAIT=" + tm.decisionWait.String(),
		"TAILSAMPLING_PERCENTAGE=0",
		"TAILSAMPLING_EXPORT_TO=" + s.url,
		"TAILSAMPLING_METRICS_PORT=" + tsMetricsPort,
	}, "--feature-gates="+recordPolicyGate)
	if !ts.launch(t, cmd, shown) {
		t.Fatal("the tail-sampling tier found a port taken")
	}

	sl := &collector{grpcAddr: freeAddr(t), httpAddr: freeAddr(t)}
	slMetricsPort := metricsPort(t, sl)
	extra := tm.tier1Args
	if withoutSpanlinks() {
		extra = append(extra, "--set=service::pipelines::traces::processors=[batch]")
		t.Log("E2E_WITHOUT_SPANLINKS=1: tier 1 runs without the spanlinks processor")
	}
	cmd, shown = tierCommand(t, collectorBinary(t), tier1Config, []string{
		"SPANLINKS_OTLP_GRPC=" + sl.grpcAddr,
		"SPANLINKS_OTLP_HTTP=" + sl.httpAddr,
		"SPANLINKS_WINDOW=" + tm.window.String(),
		"SPANLINKS_METRICS_PORT=" + slMetricsPort,
		"TAILSAMPLING_OTLP_GRPC=" + ts.grpcAddr,
	}, extra...)
	if !sl.launch(t, cmd, shown) {
		t.Fatal("the spanlinks tier found a port taken")
	}
	return tiers{spanlinks: sl, tailSampling: ts}
}

// metricsPort picks a free loopback port for c's own metrics (the shipped
// files listen on 127.0.0.1) and returns it.
func metricsPort(t *testing.T, c *collector) string {
	addr := freeAddr(t)
	c.metricsURL = "http://" + addr + "/metrics"
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// tierCommand returns the command running bin with the configuration file
// config and env added to the test's environment, and what a failing test
// shows as the configuration: the command, env and the file.
func tierCommand(t *testing.T, bin, config string, env []string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	data, err := os.ReadFile(config)
	if err != nil {
		t.Fatalf("reading %s: %v", config, err)
	}
	cmd := exec.Command(bin, append([]string{"--config", config}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	shown := strings.Join(cmd.Args, " ") + "\nwith " + strings.Join(env, " ") + "\n" + string(data)
	return cmd, shown
}
