# scripts/free-port.sh, sourced by the scripts that start collectors and
# redis-servers on loopback ports (examples/run-fleet.sh, bench/e2e.sh,
# scripts/readme-pipeline-check.sh).
#
# free_port NAME...: sets each variable NAME to a loopback port that nothing
# listens on, none handed out twice in one run of the script. The ports lie
# outside the kernel's ip_local_port_range, from which it picks the source
# port of every outgoing connection: a collector connects to Redis before
# its receivers listen, and a port from that range can be taken by that
# very connection in between ("bind: address already in use"). Its own
# variables start with _fp_, so that they hide no NAME.

read -r _free_port_low _free_port_high </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null ||
	{ _free_port_low=32768 _free_port_high=60999; }
_free_port_used=" "

free_port() {
	local _fp_name _fp_lo=10000 _fp_hi=$((_free_port_low - 1)) _fp_p _fp_i
	if ((_fp_hi - _fp_lo < 1000)); then
		_fp_lo=$((_free_port_high + 1)) _fp_hi=65535
	fi
	for _fp_name in "$@"; do
		for ((_fp_i = 0; ; _fp_i++)); do
			if ((_fp_i == 200)); then
				echo "free_port: no free port in $_fp_lo-$_fp_hi" >&2
				return 1
			fi
			_fp_p=$((_fp_lo + (RANDOM * 32768 + RANDOM) % (_fp_hi - _fp_lo + 1)))
			case $_free_port_used in *" $_fp_p "*) continue ;; esac
			if ! (exec 3<>"/dev/tcp/127.0.0.1/$_fp_p") 2>/dev/null; then
				break
			fi
		done
		_free_port_used+="$_fp_p "
		printf -v "$_fp_name" '%d' "$_fp_p"
	done
}
