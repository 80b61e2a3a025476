#!/usr/bin/env bash
# Runs every test of fwgen. On a fresh machine, run as root, it first installs
# what the tests need: nftables, iptables and iproute2 (the Linux rules are
# loaded into network namespaces and probed with real traffic), Node.js and
# the PowerShell parser (every emitted .ps1 is parsed), Graphviz, Chromium
# and mermaid-cli (the review diagrams are drawn), Microsoft's SARIF
# Multitool (lint's SARIF is validated), git (diff reads revisions),
# actionlint with shellcheck (the CI workflow of the README is linted),
# Python 3 (the listener and probe scripts run in network namespaces),
# Debian's Capirca and, from the Python package index, Aerleon (their aclgen
# runs on the capirca and aerleon exports), and the Go modules.
#
# With CI=true a missing tool or privilege fails the run instead of skipping
# the tests that need it.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -x /usr/local/go/bin/go ] && ! command -v go >/dev/null && export PATH=$PATH:/usr/local/go/bin

say() { printf '==> %s\n' "$*"; }

missing=()
for pair in nft:nftables iptables-restore:iptables ip6tables-restore:iptables ip:iproute2 node:nodejs npm:npm \
	dot:graphviz chromium:chromium git:git shellcheck:shellcheck python3:python3 /usr/bin/aclgen:python3-capirca; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
# Aerleon's virtual environment needs venv and pip.
python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		say "installing ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	elif [ "${CI:-}" = true ]; then
		echo "missing ${missing[*]} and not root to install them" >&2
		exit 1
	else
		say "missing ${missing[*]}: the tests that need them will skip (run as root to install them)"
	fi
fi

say "Go modules"
go mod download

if command -v npm >/dev/null 2>&1; then
	say "PowerShell parser (tree-sitter-powershell)"
	(cd .ci/psparse && npm ci --no-audit --no-fund --loglevel=error)
	say "mermaid-cli, driving the system's chromium"
	(cd .ci/mermaid && PUPPETEER_SKIP_DOWNLOAD=true npm ci --no-audit --no-fund --loglevel=error)
	say "SARIF Multitool"
	(cd .ci/sarif && npm ci --no-audit --no-fund --loglevel=error)
fi

if python3 -c 'import ensurepip' >/dev/null 2>&1; then
	say "Aerleon (pip, in .ci/aerleon)"
	[ -x .ci/aerleon/bin/pip ] || python3 -m venv .ci/aerleon
	.ci/aerleon/bin/pip install --quiet --disable-pip-version-check -r .ci/aerleon-requirements.txt
fi

say "actionlint"
GOBIN="$(go env GOPATH)/bin" go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
PATH="$PATH:$(go env GOPATH)/bin"
export PATH

say "go vet"
go vet ./...

say "go test"
go test -count=1 ./...

if command -v npm >/dev/null 2>&1; then
	say "PowerShell parser over every emitted script"
	bash .ci/psparse/run.sh
else
	say "no Node.js: the PowerShell parser check is skipped (run as root to install it)"
fi

say "a 10,000-group synthetic site: nft and iptables-restore check what fwgen writes for it"
estate=$(mktemp -d)
trap 'rm -rf "$estate"' EXIT
go build -o "$estate/fwgen" ./cmd/fwgen
go run ./.ci/sitegen 10000 >"$estate/site.yaml"
"$estate/fwgen" generate -q -f "$estate/site.yaml" --emit nftables >"$estate/site.nft"
"$estate/fwgen" generate -q -f "$estate/site.yaml" --emit iptables >"$estate/site.rules"
"$estate/fwgen" generate -q -f "$estate/site.yaml" --emit ip6tables >"$estate/site.rules6"
if [ "$(id -u)" = 0 ]; then
	nft -c -f "$estate/site.nft"
	iptables-restore --test --noflush <"$estate/site.rules"
	ip6tables-restore --test --noflush <"$estate/site.rules6"
	printf '    %s rules, %s sets checked by nft; %s and %s lines by iptables-restore and ip6tables-restore\n' \
		"$(grep -c ' accept comment ' "$estate/site.nft")" "$(grep -c '^	set ' "$estate/site.nft")" \
		"$(grep -c '^-A ' "$estate/site.rules")" "$(grep -c '^-A ' "$estate/site.rules6")"
elif [ "${CI:-}" = true ]; then
	echo "nft -c and iptables-restore --test need root" >&2
	exit 1
else
	say "not root: the 10,000-group files are written, not checked"
fi

say "fuzzing the policy loader for 30s"
go test -run '^$' -fuzz '^FuzzLoad$' -fuzztime 30s -fuzzminimizetime 5s ./policies
