#!/usr/bin/env bash
# Measures fwgen at estate scale, and against its peers.
#
# 1. fwgen generate on synthetic sites (.ci/sitegen) of 100, 1,000 and
#    10,000 host groups: for each size and format, the wall time and the
#    peak memory (maximum resident set size) of the process.
# 2. At 2,000 host groups, Capirca's aclgen (Debian's python3-capirca) and
#    Aerleon's (installed by .ci/test.sh in .ci/aerleon) on fwgen's export of
#    the same site, for the targets the export names (iptables and
#    windows_advfirewall; Aerleon also nftables), against fwgen writing the
#    same formats: nftables, iptables, ip6tables, netsh. It prints each time
#    and the ratio.
# 3. With GOBENCH=1, the Go benchmarks too (go test -bench), COUNT times
#    each; compare two runs with benchstat.
#
# SIZES overrides the sizes ("100 1000"); PEER_GROUPS the size of step 2.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"100 1000 10000"}
PEER_GROUPS=${PEER_GROUPS:-2000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/fwgen" ./cmd/fwgen

# measure LABEL CMD...: runs CMD, output discarded, and prints its wall time
# in seconds and its peak memory in MB (the maximum resident set size).
measure() {
	local label=$1
	shift
	python3 - "$label" "$@" <<'EOF'
import resource, subprocess, sys, time
label, cmd = sys.argv[1], sys.argv[2:]
start = time.monotonic()
r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.monotonic() - start
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
if r.returncode != 0:
    sys.stderr.write(r.stderr.decode(errors="replace")[-2000:])
    sys.exit(f"{label}: exit {r.returncode}")
print(f"{label:<42} {wall:8.2f} s {rss:8.0f} MB", flush=True)
EOF
}

# seconds LABEL CMD...: like measure, but prints only the seconds, for
# ratios.
seconds() {
	measure "$@" | awk '{print $(NF-3)}'
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3-)"
echo "fwgen $(git describe --always --dirty 2>/dev/null || echo '?')"
echo
printf '%-42s %10s %11s\n' "run" "time" "peak memory"
for n in $SIZES; do
	go run ./.ci/sitegen "$n" >"$work/site-$n.yaml"
	for f in nftables iptables json csv powershell netsh markdown; do
		measure "groups=$n --emit $f" "$work/fwgen" generate -q -f "$work/site-$n.yaml" --emit "$f"
	done
	measure "groups=$n --emit all -o DIR" "$work/fwgen" generate -q -f "$work/site-$n.yaml" --emit all -o "$work/out-$n"
	rm -rf "$work/out-$n"
done

echo
echo "peers at $PEER_GROUPS host groups (same site, same rules)"
capirca=/usr/bin/aclgen
aerleon=.ci/aerleon/bin/aclgen
go run ./.ci/sitegen "$PEER_GROUPS" >"$work/peer.yaml"
"$work/fwgen" generate -q -f "$work/peer.yaml" --emit capirca -o "$work/cap"
"$work/fwgen" generate -q -f "$work/peer.yaml" --emit aerleon -o "$work/aer"
fw=$(seconds "fwgen nftables+iptables+ip6tables+netsh" bash -c "
	for f in nftables iptables ip6tables netsh; do '$work/fwgen' generate -q -f '$work/peer.yaml' --emit \$f >/dev/null; done")
echo "fwgen, nftables, iptables, ip6tables and netsh: $fw s"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", a / b }'; }
if [ -x "$capirca" ]; then
	pol=$(ls "$work/cap/pol")
	t=$(seconds "capirca aclgen" "$capirca" --base_directory "$work/cap/pol" --definitions_directory "$work/cap/def" \
		--output_directory "$work/cap-out" --policy_file "$work/cap/pol/$pol")
	echo "Capirca aclgen (iptables, windows_advfirewall): $t s, $(ratio "$t" "$fw") times fwgen's time"
else
	echo "Capirca: $capirca missing (apt-get install python3-capirca)"
fi
if [ -x "$aerleon" ]; then
	pol=$(ls "$work/aer/pol")
	t=$(seconds "aerleon aclgen" "$aerleon" --base_directory "$work/aer/pol" --definitions_directory "$work/aer/def" \
		--output_directory "$work/aer-out" --policy_file "$work/aer/pol/$pol")
	echo "Aerleon aclgen (iptables, nftables, windows_advfirewall): $t s, $(ratio "$t" "$fw") times fwgen's time"
else
	echo "Aerleon: $aerleon missing (bash .ci/test.sh installs it)"
fi

if [ "${GOBENCH:-}" = 1 ]; then
	echo
	go test -run '^$' -bench . -benchmem -count "${COUNT:-5}" ./policies ./emit ./cmd/fwgen
fi
