# bench/table.awk: the table `make bench` prints from the go test output of
# the benchmarks: each mix per span (wall time, and CPU on every thread, the
# garbage collector's background work too), its ratio to the floor measured
# in the same run, and the targets of BENCHMARKS.md with whether they held.
# With -count N, each figure is the median of the N runs.
#
#   awk -f bench/table.awk bench-output.txt

# parse sets m to the metrics of one benchmark line: unit -> value.
function parse(line,    n, f, i) {
	delete m
	n = split(line, f, /[ \t]+/)
	for (i = 3; i < n; i += 2)
		m[f[i + 1]] = f[i]
}

# add records the value of unit on this line for key, if there is one.
function add(key, unit) {
	if (unit in m)
		vals[key, unit, ++cnt[key, unit]] = m[unit]
}

# med returns the median of what add recorded for key and unit, or "".
function med(key, unit,    n, i, j, t, a) {
	n = cnt[key, unit]
	if (n == 0)
		return ""
	for (i = 1; i <= n; i++)
		a[i] = vals[key, unit, i]
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return a[int((n + 1) / 2)]
}

function ratio(v) { return v == "" ? "" : sprintf("%.2fx", v) }
function verdict(ok) { return ok ? "ok" : "GAP" }
function target(what, measured, ok) {
	targets[++ntargets] = sprintf("%-50s %-20s %s", what, measured, verdict(ok))
}

/^BenchmarkMix\// {
	parse($0)
	split($1, p, "/")
	run = p[3]
	sub(/-[0-9]+$/, "", run)
	key = p[2] " " run
	if (!(key in seen)) {
		seen[key] = 1
		keys[++nkeys] = key
	}
	add(key, "ns/span"); add(key, "cpu-ns/span"); add(key, "B/span"); add(key, "allocs/span"); add(key, "x-floor"); add(key, "x-bare")
}

/^BenchmarkLinkIndexMemory1M/ { parse($0); add("index", "bytes/entry") }
/^BenchmarkHoldMemory/ { parse($0); add("hold", "hold-bytes/span") }

END {
	if (nkeys > 0) {
		print ""
		printf "%-20s %-24s %9s %11s %8s %11s %8s %7s\n", "mix", "run", "ns/span", "cpu-ns/span", "B/span", "allocs/span", "x floor", "x bare"
	}
	for (i = 1; i <= nkeys; i++) {
		key = keys[i]
		split(key, k, " ")
		printf "%-20s %-24s %9.1f %11.1f %8.1f %11.4f %8s %7s\n", k[1], k[2], med(key, "ns/span"), med(key, "cpu-ns/span"), med(key, "B/span"),
			med(key, "allocs/span"), ratio(med(key, "x-floor")), ratio(med(key, "x-bare"))
		if (k[2] == "spanlinks" && (f = med(key, "x-floor")) != "")
			target(k[1] " at most 2x the floor", ratio(f), f <= 2)
		if (k[2] == "spanlinks-backlinks-off" && (v = med(key, "x-bare")) != "") {
			target(k[1] " backlinks off: at most 1.2x bare", ratio(v), v <= 1.2)
			a = med(key, "allocs/span") # allocations per batch are fine, per span not
			target(k[1] " backlinks off: no allocation per span", sprintf("%.4f allocs/span", a), a < 0.05)
		}
	}
	if ((v = med("index", "bytes/entry")) != "")
		target("index memory at 1M entries: at most 128 B", sprintf("%.1f B/entry", v), v <= 128)
	if ((v = med("hold", "hold-bytes/span")) != "")
		target("holding: at most 64 B per span beyond it", sprintf("%.1f B/span", v), v <= 64)
	if (ntargets > 0) {
		print ""
		printf "%-50s %-20s %s\n", "target", "measured (median)", "held"
		for (i = 1; i <= ntargets; i++)
			print targets[i]
		printf "%-50s %-20s %s\n", "hold: all copies no span", "TestHoldAllCopiesNoSpan", "(go test)"
	}
}
