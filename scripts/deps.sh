#!/usr/bin/env bash
# deps.sh installs the outside tools the tests drive (real, independent
# clients). Idempotent: it installs only what is missing and runs
# `apt-get update` only when a package must be installed and the package
# lists are absent or older than a day. On a machine where it cannot install
# (not root, or not Debian) it checks and fails listing what is missing.
set -euo pipefail

# command -> Debian package that provides it.
declare -A NEED=(
	[go]=""              # the toolchain is the machine's, never apt's
	[python3]=python3
	[swaks]=swaks
	[openssl]=openssl
	[mbsync]=isync       # e2e/mbsync_test.go: a real IMAP sync client
	[curl]=curl          # e2e/curl_fetchmail_test.go: curl's SMTP, IMAP and POP3
	[fetchmail]=fetchmail # e2e/curl_fetchmail_test.go: the classic retrieval agent
	[postfix]=postfix    # e2e/queue_postfix_test.go: a real remote MTA (own config dir, loopback port)
	[opendkim]=opendkim  # bench/postfix_test.go: Postfix signing through a private OpenDKIM milter
	[opendkim-genkey]=opendkim-tools
	[arcsign]=python3-dkim       # internal/authcheck: dkimpy's ARC sealer, an independent chain to verify
	[dkimpy-milter]=dkimpy-milter # e2e/trust_in_test.go: Postfix signing through dkimpy-milter
	[sieve-test]=dovecot-sieve # internal/sieve/corpus_test.go: Pigeonhole as the reference interpreter
	[sieve-connect]=sieve-connect # e2e/sieve_test.go: a real ManageSieve client
	[node]=nodejs        # e2e/jmap_jam_test.go: jmap-jam, an independent JMAP client
	[npm]=npm
	[chromium]=chromium  # e2e/webmail_test.go: the webmail in a real browser, driven by playwright-core
	[unbound]=unbound    # internal/dane/unbound_test.go: a real validating resolver over a signed test zone
)

# npm_deps installs the npm packages the e2e tests run (pinned by each
# folder's package-lock.json) into folders the tests own, when absent.
# playwright-core never downloads a browser: the tests launch Debian's
# /usr/bin/chromium.
npm_deps() {
	local root dir
	root="$(cd "$(dirname "$0")/.." && pwd)/e2e/testdata"
	# folder -> the package whose presence says the folder is installed.
	for dir in jam:jmap-jam browser:playwright-core; do
		if [ ! -d "$root/${dir%%:*}/node_modules/${dir#*:}" ]; then
			echo "deps.sh: npm ci in $root/${dir%%:*}"
			npm ci --prefix "$root/${dir%%:*}" --no-audit --no-fund --loglevel=error
		fi
	done
}

missing_cmds=()
for cmd in "${!NEED[@]}"; do
	command -v "$cmd" >/dev/null 2>&1 || missing_cmds+=("$cmd")
done

# Packages that bring no command: checked with dpkg-query where it exists.
# fonts-wqy-microhei gives Chromium CJK glyphs for the zh-CN screenshots.
NEED_PKGS=(fonts-wqy-microhei)
missing_pkgs=()
if command -v dpkg-query >/dev/null 2>&1; then
	for pkg in "${NEED_PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing_pkgs+=("$pkg")
	done
fi

# Python modules the e2e scripts import (all standard library, but Debian
# can split them out).
if command -v python3 >/dev/null 2>&1; then
	if ! python3 -c 'import smtplib, poplib, ssl, json, email' >/dev/null 2>&1; then
		echo "deps.sh: python3 lacks smtplib/poplib/ssl/json/email" >&2
		exit 1
	fi
fi

# swaks speaks TLS through Perl's IO::Socket::SSL (e2e/submission_test.go).
if command -v perl >/dev/null 2>&1 && ! perl -MIO::Socket::SSL -e1 >/dev/null 2>&1; then
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		echo "deps.sh: Perl lacks IO::Socket::SSL (swaks --tls); install libio-socket-ssl-perl" >&2
		exit 1
	fi
	echo "deps.sh: installing libio-socket-ssl-perl"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libio-socket-ssl-perl
fi

if [ ${#missing_cmds[@]} -eq 0 ] && [ ${#missing_pkgs[@]} -eq 0 ]; then
	npm_deps
	echo "deps.sh: all dependencies present (${!NEED[*]})"
	exit 0
fi

pkgs=("${missing_pkgs[@]}")
for cmd in "${missing_cmds[@]}"; do
	if [ -z "${NEED[$cmd]}" ]; then
		echo "deps.sh: MISSING commands: ${missing_cmds[*]}" >&2
		echo "deps.sh: '$cmd' is not installed by this script; put it on PATH first" >&2
		exit 1
	fi
	pkgs+=("${NEED[$cmd]}")
done

is_debian=false
if [ -r /etc/os-release ] && grep -qiE '^(ID|ID_LIKE)=.*debian' /etc/os-release; then
	is_debian=true
fi
if [ "$(id -u)" -ne 0 ] || ! $is_debian || ! command -v apt-get >/dev/null 2>&1; then
	echo "deps.sh: MISSING commands: ${missing_cmds[*]} packages: ${missing_pkgs[*]}" >&2
	echo "deps.sh: cannot install here (needs root on Debian); install the packages: ${pkgs[*]}" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Update the package lists only if they are missing or stale.
lists=/var/lib/apt/lists
if [ -z "$(find "$lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -n 1)" ]; then
	echo "deps.sh: apt-get update"
	apt-get update -qq
fi
# Postfix asks its mailer type at install: none, the tests bring their own config.
if command -v debconf-set-selections >/dev/null 2>&1; then
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
fi
# The tests run their own private instances of Postfix, OpenDKIM and
# Dovecot (Pigeonhole's sieve-test): the packages must not start or enable
# system services on a host that may itself be a mail server. policy-rc.d
# keeps them from starting during the install; afterwards the services the
# install enabled are disabled.
declare -A was_enabled=()
if command -v systemctl >/dev/null 2>&1; then
	for unit in postfix opendkim dovecot fetchmail unbound; do
		systemctl is-enabled "$unit" >/dev/null 2>&1 && was_enabled[$unit]=1
	done
fi
policy=/usr/sbin/policy-rc.d
made_policy=false
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	made_policy=true
fi
echo "deps.sh: installing ${pkgs[*]} (services not started)"
if ! apt-get install -y -qq --no-install-recommends "${pkgs[@]}"; then
	$made_policy && rm -f "$policy"
	echo "deps.sh: FAILED to install ${pkgs[*]}" >&2
	exit 1
fi
$made_policy && rm -f "$policy"
if command -v systemctl >/dev/null 2>&1; then
	for unit in postfix opendkim dovecot fetchmail unbound; do
		if [ -z "${was_enabled[$unit]:-}" ] && systemctl is-enabled "$unit" >/dev/null 2>&1; then
			echo "deps.sh: disabling the $unit service the package enabled (the tests run their own)"
			systemctl disable --now "$unit" >/dev/null 2>&1 || true
		fi
	done
fi

still=()
for cmd in "${missing_cmds[@]}"; do
	command -v "$cmd" >/dev/null 2>&1 || still+=("$cmd")
done
if [ ${#still[@]} -ne 0 ]; then
	echo "deps.sh: still MISSING after install: ${still[*]}" >&2
	exit 1
fi
npm_deps
echo "deps.sh: installed ${pkgs[*]}"
