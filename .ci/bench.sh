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
#    same formats: nftables, iptables, ip6tables, netsh (one run per format,
#    the median of five rounds). It prints each time and the ratio.
# 3. With GOBENCH=1, the Go benchmarks too (go test -bench), COUNT times
#    each; compare two runs with benchstat.
#
# SIZES overrides the sizes ("100 1000"; empty for step 2 alone);
# PEER_GROUPS the size of step 2.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES-"100 1000 10000"}
PEER_GROUPS=${PEER_GROUPS:-2000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/fwgen" ./cmd/fwgen

# measure LABEL CMD...: runs CMD, output discarded, and prints its wall time
# in seconds and its peak memory in MB (the maximum resident set size).
measure() {
	local label=$1
	shift
	# What an earlier run wrote is on disk first, so that its writeback
	# does not fall in this run's time.
	sync
	python3 - "$label" "$@" <<'EOF'
import resource, subprocess, sys, time
label, cmd = sys.argv[1], sys.argv[2:]
start = time.monotonic()
# /dev/null write-only, as a shell's >/dev/null: fwgen takes a read-write
# /dev/null on its standard output for a closed one.
with open("/dev/null", "w") as null:
    r = subprocess.run(cmd, stdout=null, stderr=subprocess.PIPE)
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
	for f in nftables iptables json csv powershell netsh markdown dot; do
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
"$work/fwgen" generate -q -f "$work/peer.yaml" --emit capirca -o "$work/cap" 2>/dev/null
"$work/fwgen" generate -q -f "$work/peer.yaml" --emit aerleon -o "$work/aer" 2>/dev/null
# fwgen's time for the formats of a peer's targets: iptables and ip6tables
# (its iptables target writes both families), netsh (windows_advfirewall),
# and for Aerleon nftables too; one run of fwgen per format, the median of
# five such rounds (a round takes about a second, where a disk's writeback
# or another process weighs more than on a peer's minute).
fwgen_time() {
	for _ in 1 2 3 4 5; do
		seconds "fwgen $*" bash -c "for f in $*; do '$work/fwgen' generate -q -f '$work/peer.yaml' --emit \$f >/dev/null; done"
	done | sort -n | sed -n 3p
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
# peer NAME ACLGEN EXPORT TARGETS: times a peer's aclgen on fwgen's export.
peer() {
	local name=$1 bin=$2 export=$3 targets=$4 pol t
	if [ ! -x "$bin" ]; then
		echo "$name: $bin missing (bash .ci/test.sh installs it)"
		return
	fi
	pol=$(ls "$export/pol")
	t=$(seconds "$name aclgen" "$bin" --base_directory "$export" --definitions_directory "$export/def" \
		--output_directory "$export-out" --policy_file "$export/pol/$pol")
	# shellcheck disable=SC2086 # one word a format
	fw=$(fwgen_time $formats)
	echo "$name aclgen ($targets): $t s; fwgen --emit ${formats// /, }: $fw s; ratio $(ratio "$t" "$fw")"
}
formats="iptables ip6tables netsh"
peer Capirca "$capirca" "$work/cap" "iptables, windows_advfirewall"
formats="iptables ip6tables netsh nftables"
peer Aerleon "$aerleon" "$work/aer" "iptables, nftables, windows_advfirewall"

if [ "${GOBENCH:-}" = 1 ]; then
	echo
	go test -run '^$' -bench . -benchmem -count "${COUNT:-5}" ./policies ./emit ./cmd/fwgen
fi
