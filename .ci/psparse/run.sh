#!/usr/bin/env bash
# Parses every PowerShell script fwgen emits with tree-sitter-powershell and
# fails on a syntax error: the golden files under testdata/ and the scripts
# the emitter tests write afresh (the golden cases and the hostile-string
# cases), plus those the fwgen command prints for a few inputs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if [ ! -d "$here/node_modules/tree-sitter-powershell" ]; then
	(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cd "$root"
go test -count=1 -run 'TestPowerShellParses$' ./emit -psout "$out"
go run ./cmd/fwgen --role dc --os 2016 --emit powershell >"$out/cli-dc-2016.ps1" 2>/dev/null
go run ./cmd/fwgen --role dc --os 2016 --emit powershell --rpc-keywords >"$out/cli-dc-2016-rpc-keywords.ps1" 2>/dev/null
go run ./cmd/fwgen --role cluster-node,hyperv-host --os 2019 --emit powershell --profile domain \
	--from 10.0.0.0/8,2001:db8::/32 --group 'Cluster & Hyper-V' >"$out/cli-cluster-hyperv-2019.ps1" 2>/dev/null
for policy in policies/examples/*.yaml; do
	go run ./cmd/fwgen generate -f "$policy" --emit powershell -o "$out/$(basename "$policy" .yaml)" 2>/dev/null
done

mapfile -t golden < <(find testdata -name '*.ps1' | sort)
node "$here/check.mjs" "${golden[@]}" "$out"
