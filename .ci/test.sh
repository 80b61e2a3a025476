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
export PATH="$PATH:$(go env GOPATH)/bin"

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

say "fuzzing the policy loader for 30s"
go test -run '^$' -fuzz '^FuzzLoad$' -fuzztime 30s -fuzzminimizetime 5s ./policies
