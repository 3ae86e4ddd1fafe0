#!/usr/bin/env bash
# DNS conformance suite for `meridian dns`: real clients (dig, kdig, delv,
# zonemaster-cli, unbound) against real servers, in a private network
# namespace so that nothing clashes with the host and the zone's
# nameservers can have port 53 on their glue addresses (127.0.0.1 and
# 127.0.0.2). See conformance/README.md.
#
#   conformance/run.sh            # everything; needs root (or sudo) for apt-get and the namespace
#   MERIDIAN_BIN=path run.sh      # test that binary instead of building bin/meridian
#   KEEP=1 run.sh                 # keep the work directory (logs, configs) for a look afterwards
#
# Prints PASS/FAIL with the exact command for every check, then
# "N passed, M failed", and exits 1 if anything failed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

# Debian packages: command -> package.
TOOLS="dig:bind9-dnsutils delv:bind9-dnsutils kdig:knot-dnsutils zonemaster-cli:zonemaster-cli
unbound:unbound knotd:knot keymgr:knot curl:curl ip:iproute2 unshare:util-linux timeout:coreutils"

# Bounds. Every client call has its own timeout too.
SUITE_TIMEOUT=${SUITE_TIMEOUT:-600} # the whole inner run, seconds
READY_TIMEOUT=30                    # each server's readiness, seconds

log() { printf '== %s\n' "$*"; }
die() {
	printf 'run.sh: %s\n' "$*" >&2
	exit 2
}

# ---------------------------------------------------------------------------
# Outer part: packages, build, then the rest inside a new network namespace.
# ---------------------------------------------------------------------------
outer() {
	local sudo="" missing="" t
	[[ $(id -u) == 0 ]] || sudo=sudo
	for t in $TOOLS; do
		command -v "${t%%:*}" >/dev/null 2>&1 || missing="$missing ${t#*:}"
	done
	if [[ -n $missing ]]; then
		# shellcheck disable=SC2086 # one word per package
		missing=$(printf '%s\n' $missing | sort -u | tr '\n' ' ')
		log "installing Debian packages: $missing"
		# The packages would start system services (unbound, knot) on
		# port 53 of the host: policy-rc.d forbids that during the
		# install, unless the host already has a policy.
		local policy=/usr/sbin/policy-rc.d own_policy=""
		if [[ ! -e $policy ]]; then
			printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod 755 "$policy" && own_policy=1
		fi
		# shellcheck disable=SC2086
		$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
		local rc=$?
		[[ -n $own_policy ]] && $sudo rm -f "$policy"
		[[ $rc == 0 ]] || die "apt-get install$missing failed"
	fi

	WORK=$(mktemp -d /tmp/meridian-conformance.XXXXXX) || die "mktemp"
	chmod 755 "$WORK"
	if [[ -z ${KEEP:-} ]]; then
		trap 'rm -rf "$WORK"' EXIT
	else
		log "work directory (kept): $WORK"
	fi
	local bin=${MERIDIAN_BIN:-}
	if [[ -z $bin ]]; then
		log "building bin/meridian"
		(cd "$ROOT" && go build -o bin/meridian ./cmd/meridian) || die "go build ./cmd/meridian failed"
		bin=$ROOT/bin/meridian
	fi
	[[ -x $bin ]] || die "$bin is not an executable"
	cp "$bin" "$WORK/meridian" || die "copy $bin"
	(cd "$ROOT" && go build -o "$WORK/dnsprobe" ./conformance/dnsprobe) || die "go build ./conformance/dnsprobe failed"

	# A new network namespace with only a loopback interface: no port of
	# the host is used and nothing can leave the machine. unshare without
	# --fork execs the inner script, so the timeout's TERM reaches it and
	# its trap stops everything it started.
	local ns=(unshare --net)
	[[ $(id -u) == 0 ]] || ns=(unshare --map-root-user --net)
	timeout --foreground --kill-after=10 "$SUITE_TIMEOUT" "${ns[@]}" -- bash "$HERE/run.sh" --inside "$WORK"
	local rc=$?
	[[ $rc == 124 ]] && echo "run.sh: the suite took longer than ${SUITE_TIMEOUT}s and was stopped" >&2
	return $rc
}

# ---------------------------------------------------------------------------
# Inner part, in the namespace.
# ---------------------------------------------------------------------------

PIDS=()
PASS=0
FAIL=0
FAILED=()

# start NAME CMD...: run CMD in the background, output in $W/logs/NAME.log.
start() {
	local name=$1
	shift
	"$@" >"$W/logs/$name.log" 2>&1 &
	PIDS+=("$!")
}

cleanup() {
	local pid i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill -TERM "${PIDS[i]}" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
}

# wait_for DESC CMD...: poll CMD until it succeeds, for READY_TIMEOUT seconds.
wait_for() {
	local desc=$1 deadline=$((SECONDS + READY_TIMEOUT))
	shift
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			echo "run.sh: $desc not ready after ${READY_TIMEOUT}s; logs:" >&2
			tail -n 30 "$W"/logs/*.log >&2
			exit 2
		fi
		sleep 0.2
	done
}

# assert ASSERTION OUTPUT: one expectation about a client's output.
#   status=RCODE     the header's status (dig and kdig)
#   flags+=F         header flag F set; flags-=F: not set
#   answer=N authority=N additional=N   section counts (dig and kdig)
#   has=ERE          some line matches; not=ERE: no line does
#   count=N:ERE      exactly N lines match
#   size<=N          dig's "MSG SIZE rcvd" at most N bytes
assert() {
	local a=$1 out=$2 v
	case $a in
	status=*) grep -Eq "status: ${a#status=}[,;]" <<<"$out" ;;
	flags+=* | flags-=*)
		v=$(grep -Eio '^;; flags:[a-z ]*' <<<"$out" | head -1 | cut -d: -f2)
		if [[ $a == flags+=* ]]; then [[ " $v " == *" ${a#flags+=} "* ]]; else [[ " $v " != *" ${a#flags-=} "* ]]; fi
		;;
	answer=* | authority=* | additional=*)
		v=${a%%=*}
		grep -Eq "${v^^}: ${a#*=}[,;]?( |$)" <<<"$out"
		;;
	has=*) grep -Eq -- "${a#has=}" <<<"$out" ;;
	not=*) ! grep -Eq -- "${a#not=}" <<<"$out" ;;
	count=*)
		v=${a#count=}
		[[ $(grep -Ec -- "${v#*:}" <<<"$out") == "${v%%:*}" ]]
		;;
	size\<=*)
		v=$(grep -Eo 'MSG SIZE +rcvd: [0-9]+' <<<"$out" | grep -Eo '[0-9]+$')
		[[ -n $v ]] && ((v <= ${a#size<=}))
		;;
	*)
		echo "run.sh: unknown assertion $a" >&2
		return 1
		;;
	esac
}

# check DESC CMD ASSERTION...: run CMD (a shell command line, printed as
# is), then every assertion on its output; PASS if all hold.
check() {
	local desc=$1 cmd=$2 out a why=""
	shift 2
	out=$(eval "$cmd" 2>&1)
	for a in "$@"; do
		if ! assert "$a" "$out"; then
			why=$a
			break
		fi
	done
	if [[ -z $why ]]; then
		PASS=$((PASS + 1))
		printf 'PASS  %s\n      $ %s\n' "$desc" "$cmd"
	else
		FAIL=$((FAIL + 1))
		FAILED+=("$desc")
		printf 'FAIL  %s\n      $ %s\n      expected: %s (all of: %s)\n      got:\n' "$desc" "$cmd" "$why" "$*"
		sed -n '1,40s/^/        /p' <<<"$out"
	fi
}

# fail DESC REASON: a check that could not run counts as a failure.
fail() {
	FAIL=$((FAIL + 1))
	FAILED+=("$1")
	printf 'FAIL  %s\n      %s\n' "$1" "$2"
}

# What the conformance suite adds to the demo policy: RRsets larger than
# 512 and than 1232 bytes (truncation), and an IPv6 proxy address per
# region (AAAA steering), served by `dnsprobe healthz` on addresses of this
# namespace's loopback so that the prober finds them up. The rest is the
# demo's, with the ports `meridian dev` gives it (deploy/demo/policy.json).
V6_EU=2001:db8:ffff::11 V6_US=2001:db8:ffff::12 V6_AP=2001:db8:ffff::13
extra_policy() {
	# The demo's region checks (500 ms timeout, fall 2) are made for a
	# quick cheat sheet; on a CI machine running other test packages beside
	# this suite one us-east probe window was lost and the steering checks
	# saw the region down. This suite tests DNS, not health: give the
	# checks room (a region goes down only after 3 failed 1.5 s probes).
	local x i big="" mid="" chk='"check": {"kind": "http", "port": 8080, "path": "/healthz", "interval": "2s", "timeout": "1500ms", "rise": 2, "fall": 3}'
	x=$(printf 'x%.0s' $(seq 200))
	for i in 0 1 2 3 4 5 6 7; do big="$big, \"big 300 IN TXT \\\"$i$x\\\"\""; done
	for i in 0 1 2; do mid="$mid, \"mid 300 IN TXT \\\"$i$x\\\"\""; done
	cat <<EOF
{"zones/gslb.example.": {
  "ttl": "1h",
  "soa": {"rname": "hostmaster.gslb.example.", "minimum": "30s"},
  "nameservers": [
    {"name": "ns1.gslb.example.", "ipv4": ["127.0.0.1"]},
    {"name": "ns2.gslb.example.", "ipv4": ["127.0.0.2"]}
  ],
  "records": [
    "@ 3600 IN TXT \"meridian demo zone\"",
    "@ 3600 IN MX 10 mail.example.net.",
    "docs 300 IN CNAME www.gslb.example."$mid$big
  ]
},
"regions/eu-west": {"location": {"lat": 53.35, "lon": -6.26}, "country": "IE", "proxies": ["127.0.0.11", "$V6_EU"], "http_port": 8080, $chk},
"regions/us-east": {"location": {"lat": 38.9, "lon": -77.04}, "country": "US", "proxies": ["127.0.0.12", "$V6_US"], "http_port": 8080, $chk},
"regions/ap-southeast": {"location": {"lat": 1.29, "lon": 103.85}, "country": "SG", "proxies": ["127.0.0.13", "$V6_AP"], "http_port": 8080, $chk}
}
EOF
}

# behaviour LABEL HOST PORT NSID: the RFC behaviours of an authoritative
# server, against one server.
behaviour() {
	local l=$1 h=$2 p=$3 nsid=$4
	local dig="dig @$h -p $p +time=2 +tries=1"
	local kdig="kdig @$h -p $p +time=2 +retry=0"
	local probe="$W/dnsprobe"
	local tr
	local ok='NOERROR'
	local www='^www\.gslb\.example\.[[:space:]]+10[[:space:]]+IN[[:space:]]+A[[:space:]]+'
	local soa='[[:space:]]IN[[:space:]]+SOA[[:space:]]+ns1\.gslb\.example\.[[:space:]]+hostmaster\.gslb\.example\.'
	log "$l: header, apex"
	for tr in +notcp +tcp; do
		check "$l: AA set, RA clear, RD copied ($tr)" "$dig $tr www.gslb.example A +subnet=192.0.2.1/24" \
			status=$ok flags+=qr flags+=aa flags-=ra flags+=rd answer=1
	done
	check "$l: RD clear when not asked, CD copied" "$dig +norecurse +cdflag www.gslb.example A" \
		status=$ok flags+=aa flags-=rd flags+=cd flags-=ra
	check "$l: SOA at the apex" "$dig gslb.example SOA" \
		status=$ok flags+=aa answer=1 "has=^gslb\.example\.[[:space:]]+3600$soa"
	check "$l: NS at the apex with A glue for both in-zone nameservers" "$dig gslb.example NS" \
		status=$ok flags+=aa answer=2 count=2:'^gslb\.example\.[[:space:]]+3600[[:space:]]+IN[[:space:]]+NS[[:space:]]+ns[12]\.gslb\.example\.$' \
		'has=^ns1\.gslb\.example\.[[:space:]]+3600[[:space:]]+IN[[:space:]]+A[[:space:]]+127\.0\.0\.1$' \
		'has=^ns2\.gslb\.example\.[[:space:]]+3600[[:space:]]+IN[[:space:]]+A[[:space:]]+127\.0\.0\.2$'
	check "$l: nameserver address (glue name, A)" "$dig ns2.gslb.example A" \
		status=$ok flags+=aa answer=1 'has=^ns2\.gslb\.example\..*IN[[:space:]]+A[[:space:]]+127\.0\.0\.2$'

	log "$l: steering by ECS (RFC 7871)"
	for tr in +notcp +tcp; do
		check "$l: ECS Europe 192.0.2.0/24 -> eu-west, scope /24 ($tr)" "$dig $tr www.gslb.example A +subnet=192.0.2.1/24" \
			status=$ok answer=1 "has=${www}127\.0\.0\.11$" 'has=CLIENT-SUBNET: 192\.0\.2\.0/24/24$'
	done
	check "$l: ECS America 198.51.100.0/24 -> us-east, scope /24" "$dig www.gslb.example A +subnet=198.51.100.1/24" \
		status=$ok answer=1 "has=${www}127\.0\.0\.12$" 'has=CLIENT-SUBNET: 198\.51\.100\.0/24/24$'
	check "$l: ECS Asia 203.0.113.0/24 -> ap-southeast, scope /24" "$dig www.gslb.example A +subnet=203.0.113.1/24" \
		status=$ok answer=1 "has=${www}127\.0\.0\.13$" 'has=CLIENT-SUBNET: 203\.0\.113\.0/24/24$'
	check "$l: ECS with kdig (America)" "$kdig www.gslb.example A +subnet=198.51.100.7/24" \
		status=$ok 'has=www\.gslb\.example\.[[:space:]]+10[[:space:]]+IN[[:space:]]+A[[:space:]]+127\.0\.0\.12' \
		'has=CLIENT-SUBNET: 198\.51\.100\.0/24/24'
	check "$l: failover service: first region for everyone, scope 0 (Europe)" "$dig api.gslb.example A +subnet=192.0.2.1/24" \
		status=$ok answer=1 'has=^api\.gslb\.example\.[[:space:]]+10[[:space:]]+IN[[:space:]]+A[[:space:]]+127\.0\.0\.12$' \
		'has=CLIENT-SUBNET: 192\.0\.2\.0/24/0$'
	check "$l: failover service: first region for everyone, scope 0 (Asia)" "$dig api.gslb.example A +subnet=203.0.113.1/24" \
		status=$ok answer=1 'has=^api\.gslb\.example\..*127\.0\.0\.12$' 'has=CLIENT-SUBNET: 203\.0\.113\.0/24/0$'
	check "$l: CNAME to a service is followed, steered by ECS" "$dig docs.gslb.example A +subnet=203.0.113.1/24" \
		status=$ok flags+=aa answer=2 'has=^docs\.gslb\.example\..*CNAME[[:space:]]+www\.gslb\.example\.$' "has=${www}127\.0\.0\.13$"
	local aaaa='^www\.gslb\.example\.[[:space:]]+10[[:space:]]+IN[[:space:]]+AAAA[[:space:]]+'
	check "$l: AAAA, ECS Europe -> eu-west's IPv6 proxy, scope /24" "$dig www.gslb.example AAAA +subnet=192.0.2.1/24" \
		status=$ok flags+=aa answer=1 "has=${aaaa}${V6_EU}$" 'has=CLIENT-SUBNET: 192\.0\.2\.0/24/24$'
	check "$l: AAAA, ECS America -> us-east's IPv6 proxy" "$dig www.gslb.example AAAA +subnet=198.51.100.1/24" \
		status=$ok answer=1 "has=${aaaa}${V6_US}$" 'has=CLIENT-SUBNET: 198\.51\.100\.0/24/24$'
	check "$l: AAAA, ECS Asia -> ap-southeast's IPv6 proxy" "$dig www.gslb.example AAAA +subnet=203.0.113.1/24" \
		status=$ok answer=1 "has=${aaaa}${V6_AP}$" 'has=CLIENT-SUBNET: 203\.0\.113\.0/24/24$'
	check "$l: AAAA of the failover service: us-east, scope 0" "$dig api.gslb.example AAAA +subnet=192.0.2.1/24" \
		status=$ok answer=1 "has=^api\.gslb\.example\..*IN[[:space:]]+AAAA[[:space:]]+${V6_US}$" 'has=CLIENT-SUBNET: 192\.0\.2\.0/24/0$'
	check "$l: IPv6 client ECS: echoed (family 2, /56), answered" "$dig www.gslb.example A +subnet=2001:db8:1:2ff::1/56" \
		status=$ok answer=1 "has=${www}127\.0\.0\.1[123]$" 'has=CLIENT-SUBNET: 2001:db8:1:200::/56/([0-9]|[1-4][0-9]|5[0-6])$'
	check "$l: ECS source /0: resolver's address decides, scope 0" "$dig www.gslb.example A +subnet=0.0.0.0/0" \
		status=$ok answer=1 'has=CLIENT-SUBNET: 0\.0\.0\.0/0/0$'
	check "$l: ECS /32 from the client: echoed as sent, scope at most /24" "$dig www.gslb.example A +subnet=192.0.2.1/32" \
		status=$ok "has=${www}127\.0\.0\.11$" 'has=CLIENT-SUBNET: 192\.0\.2\.1/32/(1?[0-9]|2[0-4])$'
	check "$l: ECS family 3: FORMERR, no echo" "$dig www.gslb.example A +ednsopt=8:0003180000c00002" \
		status=FORMERR answer=0 not=CLIENT-SUBNET
	check "$l: ECS /24 with 2 address octets (RFC 7871 §6): FORMERR, no echo" "$dig www.gslb.example A +ednsopt=8:00011800c633" \
		status=FORMERR answer=0 not=CLIENT-SUBNET
	check "$l: ECS /24 with 4 address octets: FORMERR, no echo" "$dig www.gslb.example A +ednsopt=8:00011800c6336400" \
		status=FORMERR answer=0 not=CLIENT-SUBNET
	check "$l: ECS IPv4 source prefix 33: FORMERR" "$dig www.gslb.example A +ednsopt=8:00012100c0000201ff" \
		status=FORMERR answer=0
	check "$l: ECS IPv6 source prefix 129: FORMERR" "$dig www.gslb.example A +ednsopt=8:0002810020010db8000000000000000000000000" \
		status=FORMERR answer=0
	check "$l: ECS address bits beyond the source prefix (192.0.3.0/23): FORMERR, no echo" "$dig www.gslb.example A +ednsopt=8:00011700c00003" \
		status=FORMERR answer=0 not=CLIENT-SUBNET
	check "$l: ECS source /0 with address bits set: FORMERR" "$dig www.gslb.example A +ednsopt=8:00010000c0" \
		status=FORMERR answer=0 not=CLIENT-SUBNET
	check "$l: two ECS options: FORMERR" "$dig www.gslb.example A +subnet=192.0.2.1/24 +ednsopt=8:00011800c63364" \
		status=FORMERR answer=0

	log "$l: negative answers (RFC 2308), refusal (RFC 8906)"
	check "$l: NXDOMAIN with exactly one SOA in authority (TTL = SOA minimum 30)" "$dig nope.gslb.example A" \
		status=NXDOMAIN flags+=aa answer=0 authority=1 count=1:"$soa" "has=^gslb\.example\.[[:space:]]+30$soa"
	check "$l: NXDOMAIN below a nonexistent name" "$dig a.b.nope.gslb.example AAAA" \
		status=NXDOMAIN flags+=aa answer=0 authority=1 count=1:"$soa"
	check "$l: NODATA at a service (MX): NOERROR, one SOA" "$dig www.gslb.example MX" \
		status=$ok flags+=aa answer=0 authority=1 count=1:"$soa"
	check "$l: NODATA at a service (TXT)" "$dig api.gslb.example TXT" \
		status=$ok flags+=aa answer=0 authority=1 count=1:"$soa"
	check "$l: NODATA at the apex (A)" "$dig gslb.example A" \
		status=$ok flags+=aa answer=0 authority=1 count=1:"$soa"
	check "$l: name outside the zone: REFUSED, not authoritative, no referral" "$dig example.com A" \
		status=REFUSED flags-=aa flags-=ra answer=0 authority=0
	check "$l: the root: REFUSED, no upward referral" "$dig . NS" \
		status=REFUSED flags-=aa answer=0 authority=0
	check "$l: the parent zone: REFUSED" "$dig example. SOA" \
		status=REFUSED flags-=aa answer=0 authority=0
	check "$l: a sibling that ends like the zone (xgslb.example): REFUSED" "$dig www.xgslb.example A" \
		status=REFUSED answer=0

	log "$l: names (RFC 4343, 0x20)"
	check "$l: mixed case: answered, question case preserved" "$dig WwW.GsLb.ExAmPlE A +subnet=192.0.2.1/24" \
		status=$ok flags+=aa answer=1 'has=^;WwW\.GsLb\.ExAmPlE\.[[:space:]]+IN[[:space:]]+A$' 'has=[[:space:]]IN[[:space:]]+A[[:space:]]+127\.0\.0\.11$'
	# (kdig lowercases the names it sends, so 0x20 is dig's.)
	check "$l: mixed case NXDOMAIN: question case preserved, SOA" "$dig NoPe.GSLB.example AAAA" \
		status=NXDOMAIN flags+=aa authority=1 'has=^;NoPe\.GSLB\.example\.[[:space:]]+IN[[:space:]]+AAAA$' "has=$soa"
	check "$l: mixed case NODATA: question case preserved" "$dig API.gslb.EXAMPLE MX" \
		status=$ok flags+=aa answer=0 authority=1 'has=^;API\.gslb\.EXAMPLE\.[[:space:]]+IN[[:space:]]+MX$'

	log "$l: EDNS (RFC 6891)"
	check "$l: OPT in the reply, version 0, 1232 advertised" "$dig www.gslb.example A" \
		status=$ok 'has=^; EDNS: version: 0, flags:; udp: 1232$'
	check "$l: no OPT in the reply to a query without one" "$dig +noedns www.gslb.example A" \
		status=$ok additional=0 'not=OPT PSEUDOSECTION'
	check "$l: EDNS version 1: BADVERS with an OPT of version 0" "$dig +edns=1 +noednsnegotiation www.gslb.example A" \
		status=BADVERS answer=0 'has=^; EDNS: version: 0,'
	check "$l: OPT in NXDOMAIN" "$dig nope.gslb.example A" status=NXDOMAIN 'has=^; EDNS: version: 0,'
	check "$l: OPT in REFUSED" "$dig example.com A" status=REFUSED 'has=^; EDNS: version: 0,'
	check "$l: OPT in NOTIMP" "$dig +opcode=2 www.gslb.example A" status=NOTIMP 'has=^; EDNS: version: 0,'
	check "$l: OPT in FORMERR (ECS host bits)" "$dig www.gslb.example A +ednsopt=8:00011700c00003" \
		status=FORMERR 'has=^; EDNS: version: 0,'
	check "$l: OPT in FORMERR (ECS family 3)" "$dig www.gslb.example A +ednsopt=8:0003180000c00002" \
		status=FORMERR 'has=^; EDNS: version: 0,'
	check "$l: OPT in FORMERR (ECS source prefix 33)" "$dig www.gslb.example A +ednsopt=8:00012100c0000201ff" \
		status=FORMERR 'has=^; EDNS: version: 0,'
	check "$l: DO copied into the response (RFC 3225 section 3)" "$dig +dnssec www.gslb.example A" \
		status=$ok 'has=^; EDNS: version: 0, flags: do;'
	check "$l: DO copied into a REFUSED response" "$dig +dnssec example.com A" \
		status=REFUSED 'has=^; EDNS: version: 0, flags: do;'
	check "$l: unknown EDNS option ignored" "$dig www.gslb.example A +ednsopt=65001:abcd" \
		status=$ok answer=1 'has=^; EDNS: version: 0,'
	check "$l: 738-byte answer, client size 512: TC, reply fits 512" "$dig +bufsize=512 +ignore mid.gslb.example TXT" \
		status=$ok flags+=tc size\<=512
	check "$l: client size 100 is taken as 512: TC, reply fits 512" "$dig +bufsize=100 +ignore mid.gslb.example TXT" \
		status=$ok flags+=tc size\<=512
	check "$l: no EDNS: TC, reply fits 512" "$dig +noedns +ignore mid.gslb.example TXT" \
		status=$ok flags+=tc size\<=512
	check "$l: client size 1232 and 738 bytes: whole answer over UDP" "$dig +bufsize=1232 +ignore mid.gslb.example TXT" \
		status=$ok flags-=tc answer=3
	check "$l: client size 4096, 1900 bytes: capped at 1232, TC" "$dig +bufsize=4096 +ignore big.gslb.example TXT" \
		status=$ok flags+=tc size\<=1232
	check "$l: after TC, dig retries over TCP and gets the whole answer" "$dig +bufsize=512 mid.gslb.example TXT" \
		status=$ok flags-=tc answer=3 'has=\(TCP\)'
	check "$l: 1900-byte answer over TCP: whole, no TC" "$dig +tcp big.gslb.example TXT" \
		status=$ok flags-=tc answer=8 size\<=4000

	log "$l: TCP (RFC 7766)"
	check "$l: kdig: three queries on one kept-open TCP connection" "$kdig +tcp +keepopen www.gslb.example A +subnet=192.0.2.1/24 api.gslb.example A gslb.example SOA" \
		count=3:'status: NOERROR' 'has=127\.0\.0\.11' 'has=api\.gslb\.example\..*127\.0\.0\.12' "has=$soa"
	check "$l: 10 queries pipelined in one write, answers matched by id" "$probe pipeline -server $h:$p" \
		'has=^10 replies for 10 queries' \
		'has=^www\.gslb\.example\. A ecs=192\.0\.2\.0/24 -> NOERROR aa=true tc=false answer=\[127\.0\.0\.11\] ns=0 ecs-scope=24$' \
		'has=^www\.gslb\.example\. A ecs=198\.51\.100\.0/24 -> NOERROR .*answer=\[127\.0\.0\.12\].*ecs-scope=24$' \
		'has=^www\.gslb\.example\. A ecs=203\.0\.113\.0/24 -> NOERROR .*answer=\[127\.0\.0\.13\].*ecs-scope=24$' \
		'has=^api\.gslb\.example\. A ecs=192\.0\.2\.0/24 -> NOERROR .*answer=\[127\.0\.0\.12\].*ecs-scope=0$' \
		'has=^nope\.gslb\.example\. A -> NXDOMAIN aa=true tc=false answer=\[\] ns=1$' \
		'has=^www\.gslb\.example\. MX -> NOERROR aa=true tc=false answer=\[\] ns=1$' \
		'has=^mid\.gslb\.example\. TXT -> NOERROR .*answer=\[TXT TXT TXT\]' \
		'has=^example\.com\. A -> REFUSED aa=false'
	check "$l: 10 pipelined queries, each length and message its own segment" "$probe pipeline -split -server $h:$p" \
		'has=^10 replies for 10 queries' 'has=^nope\.gslb\.example\. A -> NXDOMAIN'

	log "$l: ANY (RFC 8482), NSID (RFC 5001), CH"
	check "$l: ANY at a service: one RRset (the steered A)" "$dig www.gslb.example ANY +subnet=192.0.2.1/24" \
		status=$ok flags+=aa answer=1 "has=${www}127\.0\.0\.11$"
	check "$l: ANY at the apex: one RRset, HINFO \"RFC8482\"" "$dig gslb.example ANY" \
		status=$ok flags+=aa answer=1 'has=IN[[:space:]]+HINFO[[:space:]]+"RFC8482"'
	check "$l: ANY over TCP: minimal too" "$dig +tcp gslb.example ANY" status=$ok answer=1
	check "$l: NSID when asked" "$dig +nsid www.gslb.example A" status=$ok "has=^; NSID: .*\(\"$nsid\"\)$"
	check "$l: no NSID when not asked" "$dig www.gslb.example A" status=$ok 'not=NSID'
	check "$l: NSID with kdig" "$kdig +nsid www.gslb.example A" status=$ok "has=NSID: [0-9A-F]+ \"$nsid\""
	check "$l: CH TXT id.server: the NSID" "$dig id.server CH TXT" status=$ok answer=1 "has=CH[[:space:]]+TXT[[:space:]]+\"$nsid\""
	check "$l: CH TXT hostname.bind: the NSID" "$dig hostname.bind CH TXT" status=$ok answer=1 "has=\"$nsid\""
	check "$l: CH TXT version.bind: REFUSED (no version disclosure)" "$dig version.bind CH TXT" status=REFUSED answer=0
	check "$l: class CH for the zone: REFUSED" "$dig gslb.example SOA CH" status=REFUSED flags-=aa answer=0
	check "$l: class HS: REFUSED" "$dig www.gslb.example A HS" status=REFUSED answer=0
	check "$l: class ANY (255) is served as IN" "$dig www.gslb.example A CLASS255 +subnet=192.0.2.1/24" \
		status=$ok answer=1 "has=${www}127\.0\.0\.11$"

	log "$l: opcodes, transfers, malformed queries"
	local op
	for op in 1 2 4 5 6 15; do
		check "$l: opcode $op: NOTIMP" "$dig +opcode=$op www.gslb.example A" status=NOTIMP answer=0
	done
	check "$l: AXFR: REFUSED (kdig)" "$kdig gslb.example AXFR" "has=server replied with error 'REFUSED'" 'not=IN[[:space:]]+SOA'
	check "$l: AXFR with dig: fails" "$dig gslb.example AXFR" 'has=Transfer failed' 'not=IN[[:space:]]+SOA'
	check "$l: IXFR: REFUSED (kdig)" "$kdig gslb.example IXFR=1" "has=server replied with error 'REFUSED'"
	check "$l: qtype OPT (41): FORMERR" "$dig www.gslb.example TYPE41" status=FORMERR answer=0
	check "$l: no question (QDCOUNT 0): FORMERR" "$dig +header-only www.gslb.example A" status=FORMERR
	check "$l: two questions (QDCOUNT 2): FORMERR" "$probe send -server $h:$p -qdcount 2 www.gslb.example A" 'has=status: FORMERR'
	check "$l: two OPT records: FORMERR with one OPT" "$probe send -server $h:$p -opt2 www.gslb.example A" 'has=status: FORMERR, .* opt-records=1$'
	check "$l: a response (QR set) over UDP: no reply" "$probe send -server $h:$p -qr www.gslb.example A" 'has=^no reply'
	check "$l: a response (QR set) over TCP: no reply" "$probe send -tcp -server $h:$p -qr www.gslb.example A" 'has=^no reply'
}

# dnssec_direct HOST PORT ANCHORS: signed answers from a server, checked
# by the server-side view (dig +dnssec) and by delv with the zone's key as
# trust anchor.
dnssec_direct() {
	local l=$1 h=$2 p=$3 anchors=$4
	local dig="dig @$h -p $p +time=2 +tries=1 +dnssec"
	local delv="delv @$h -p $p -a $anchors +root=gslb.example."
	local delv_wrong="delv @$h -p $p -a $W/wrong-anchor.conf +root=gslb.example."
	log "$l: DNSSEC (RFC 4035, RFC 9824)"
	check "$l: DNSKEY at the apex, signed, DO echoed" "$dig gslb.example DNSKEY" \
		status=NOERROR flags+=aa 'has=IN[[:space:]]+DNSKEY[[:space:]]+257 3 13 ' 'has=IN[[:space:]]+RRSIG[[:space:]]+DNSKEY 13 2 ' 'has=^; EDNS: version: 0, flags: do;'
	check "$l: steered A signed" "$dig www.gslb.example A +subnet=198.51.100.1/24" \
		status=NOERROR 'has=IN[[:space:]]+A[[:space:]]+127\.0\.0\.12$' 'has=IN[[:space:]]+RRSIG[[:space:]]+A 13 3 ' 'has=CLIENT-SUBNET: 198\.51\.100\.0/24/24$'
	check "$l: nonexistent name with DO: NOERROR, NSEC black lie at the name, one SOA" "$dig nope.gslb.example A" \
		status=NOERROR answer=0 count=1:'[[:space:]]IN[[:space:]]+SOA[[:space:]]' 'has=^nope\.gslb\.example\.[[:space:]].*IN[[:space:]]+NSEC[[:space:]]' 'has=RRSIG[[:space:]]+NSEC '
	check "$l: no DO: unsigned, DO clear" "dig @$h -p $p +time=2 +tries=1 www.gslb.example A" \
		status=NOERROR 'not=RRSIG' 'has=^; EDNS: version: 0, flags:; udp'
	check "$l: delv: steered answer fully validated" "$delv www.gslb.example A" 'has=^; fully validated' 'has=IN[[:space:]]+A[[:space:]]+127\.0\.0\.1[123]'
	check "$l: delv: NS fully validated" "$delv gslb.example NS" 'has=^; fully validated'
	check "$l: delv: nonexistent name, negative response validated" "$delv nope.gslb.example A" 'has=^; negative response, fully validated'
	check "$l: delv: NODATA validated" "$delv www.gslb.example MX" 'has=^; negative response, fully validated'
	check "$l: delv: CNAME chain validated" "$delv docs.gslb.example A" 'has=^; fully validated' 'has=CNAME'
	check "$l: delv: AAAA fully validated" "$delv www.gslb.example AAAA" 'has=^; fully validated' 'has=IN[[:space:]]+AAAA'
	check "$l: black lie NSEC: next name \\000.<name>, types RRSIG NSEC NXNAME (RFC 9824)" "$dig nope.gslb.example A" \
		'has=^nope\.gslb\.example\.[[:space:]].*IN[[:space:]]+NSEC[[:space:]]+\\000\.nope\.gslb\.example\.[[:space:]]+RRSIG NSEC (NXNAME|TYPE128)$'
	check "$l: signed 1900-byte answer over TCP: whole, with its RRSIG" "$dig +tcp big.gslb.example TXT" \
		status=NOERROR flags-=tc 'count=8:IN[[:space:]]+TXT[[:space:]]' 'has=RRSIG[[:space:]]+TXT '
	check "$l: signed answer, client size 512: TC, fits 512" "$dig +bufsize=512 +ignore mid.gslb.example TXT" \
		status=NOERROR flags+=tc size\<=512
	# The negative control: with another key as the anchor, nothing validates.
	check "$l: delv with a wrong trust anchor: validation fails" "$delv_wrong www.gslb.example A" \
		'not=fully validated' 'has=(resolution failed|no valid|insecurity proof failed|broken trust chain)'
}

# knot_conf NAME ADDR ZONE: a knotd serving one zone, signed by knotd with
# a key made beforehand (manual policy: it signs, it never rolls).
knot_conf() {
	local name=$1 addr=$2 zone=$3 file=$4
	mkdir -p "$W/$name"
	cat >"$W/$name/knot.conf" <<EOF
server:
    rundir: "$W/$name"
    pidfile: "$W/$name/knot.pid"
    listen: $addr@53
log:
  - target: stderr
    any: info
database:
    storage: "$W/$name"
policy:
  - id: manual
    manual: on
    algorithm: ecdsap256sha256
    single-type-signing: on
    nsec3: off
zone:
  - domain: "$zone"
    storage: "$W/$name"
    file: "$file"
    dnssec-signing: on
    dnssec-policy: manual
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
EOF
}

# chain: a signed fake root on 127.0.0.53 and a signed example. on
# 127.0.0.54 (knotd), delegating gslb.example. to Meridian's two servers
# with the DS from `meridian dnssec ds` when there is one.
chain() {
	local ds=$1
	knot_conf knot-example 127.0.0.54 example. example.zone
	knot_conf knot-root 127.0.0.53 . root.zone
	keymgr -c "$W/knot-example/knot.conf" example. generate algorithm=ecdsap256sha256 ksk=yes zsk=yes >/dev/null || die "keymgr example."
	keymgr -c "$W/knot-root/knot.conf" . generate algorithm=ecdsap256sha256 ksk=yes zsk=yes >/dev/null || die "keymgr ."
	local exds
	exds=$(keymgr -c "$W/knot-example/knot.conf" example. ds | awk '$5 == 2') || die "keymgr ds example."
	cat >"$W/knot-example/example.zone" <<EOF
\$TTL 3600
example.            SOA ns.example. hostmaster.example. 1 3600 900 604800 300
example.            NS  ns.example.
ns.example.         A   127.0.0.54
gslb.example.       NS  ns1.gslb.example.
gslb.example.       NS  ns2.gslb.example.
ns1.gslb.example.   A   127.0.0.1
ns2.gslb.example.   A   127.0.0.2
$ds
EOF
	cat >"$W/knot-root/root.zone" <<EOF
\$TTL 86400
.                   SOA a.root-servers.net. hostmaster.root-servers.net. 1 1800 900 604800 86400
.                   NS  a.root-servers.net.
a.root-servers.net. A   127.0.0.53
example.            NS  ns.example.
ns.example.         A   127.0.0.54
$exds
; What the rest of the world would provide: reverse names of the
; nameservers (zonemaster ADDRESS02/03) and the demo zone's mail exchanger
; (SYNTAX06), served from the root zone itself.
1.0.0.127.in-addr.arpa. PTR ns1.gslb.example.
2.0.0.127.in-addr.arpa. PTR ns2.gslb.example.
mail.example.net.   A   127.0.0.25
EOF
	start knot-example knotd -c "$W/knot-example/knot.conf"
	start knot-root knotd -c "$W/knot-root/knot.conf"
	wait_for "knotd example." sh -c "kdig @127.0.0.54 +time=1 +retry=0 +dnssec example. SOA | grep -q RRSIG"
	wait_for "knotd root" sh -c "kdig @127.0.0.53 +time=1 +retry=0 +dnssec . SOA | grep -q RRSIG"
	# The root's key, as a resolver's trust anchor and as root hints.
	keymgr -c "$W/knot-root/knot.conf" . dnskey >"$W/root.key" || die "keymgr dnskey ."
	printf '.\t3600000\tNS\ta.root-servers.net.\na.root-servers.net.\t3600000\tA\t127.0.0.53\n' >"$W/root.hints"
}

unbound_conf() {
	mkdir -p "$W/unbound"
	cat >"$W/unbound/unbound.conf" <<EOF
server:
    interface: 127.0.0.99
    port: 53
    do-ip6: no
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$W/unbound"
    pidfile: "$W/unbound/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    val-log-level: 2
    access-control: 127.0.0.0/8 allow
    # The delegation chain is on loopback addresses.
    do-not-query-localhost: no
    root-hints: "$W/root.hints"
    trust-anchor-file: "$W/root.key"
    # ECS (RFC 7871) towards the zone: the client's own option when it
    # sends one, else its address; answers cached per scope.
    module-config: "subnetcache validator iterator"
    client-subnet-zone: gslb.example.
    client-subnet-always-forward: yes
    max-client-subnet-ipv4: 24
    max-client-subnet-ipv6: 56
remote-control:
    control-enable: no
EOF
}

resolver() {
	local dnssec=$1 ad=flags+=ad
	local dig="dig @127.0.0.99 +time=3 +tries=1"
	[[ $dnssec == 1 ]] || ad=flags-=ad
	log "unbound: resolution through the local chain (root -> example. -> gslb.example.)"
	check "unbound: the chain above the zone validates (example. SOA, AD)" "$dig +dnssec example. SOA" \
		status=NOERROR flags+=ad flags+=ra answer=2
	check "unbound: Europe -> eu-west, ECS scope /24 back to the client" "$dig +dnssec www.gslb.example A +subnet=192.0.2.1/24" \
		status=NOERROR flags+=ra $ad 'has=^www\.gslb\.example\..*IN[[:space:]]+A[[:space:]]+127\.0\.0\.11$' 'has=CLIENT-SUBNET: 192\.0\.2\.0/24/24$'
	check "unbound: America -> us-east (not the cached European answer)" "$dig +dnssec www.gslb.example A +subnet=198.51.100.1/24" \
		status=NOERROR $ad 'has=^www\.gslb\.example\..*IN[[:space:]]+A[[:space:]]+127\.0\.0\.12$' 'has=CLIENT-SUBNET: 198\.51\.100\.0/24/24$'
	check "unbound: Asia -> ap-southeast" "$dig +dnssec www.gslb.example A +subnet=203.0.113.1/24" \
		status=NOERROR $ad 'has=^www\.gslb\.example\..*IN[[:space:]]+A[[:space:]]+127\.0\.0\.13$' 'has=CLIENT-SUBNET: 203\.0\.113\.0/24/24$'
	check "unbound: Europe again, another address in the /24: eu-west" "$dig +dnssec www.gslb.example A +subnet=192.0.2.200/24" \
		status=NOERROR $ad 'has=^www\.gslb\.example\..*IN[[:space:]]+A[[:space:]]+127\.0\.0\.11$'
	check "unbound: failover service: us-east, scope 0" "$dig +dnssec api.gslb.example A +subnet=203.0.113.1/24" \
		status=NOERROR $ad 'has=^api\.gslb\.example\..*IN[[:space:]]+A[[:space:]]+127\.0\.0\.12$' 'has=CLIENT-SUBNET: 203\.0\.113\.0/24/0$'
	check "unbound: no client ECS: resolved from the resolver's view" "$dig +dnssec www.gslb.example A" \
		status=NOERROR $ad 'has=^www\.gslb\.example\..*IN[[:space:]]+A[[:space:]]+127\.0\.0\.1[123]$'
	check "unbound: CNAME to the service" "$dig +dnssec docs.gslb.example A +subnet=203.0.113.1/24" \
		status=NOERROR $ad 'has=CNAME[[:space:]]+www\.gslb\.example\.$' 'has=IN[[:space:]]+A[[:space:]]+127\.0\.0\.13$'
	check "unbound: nonexistent name: no answer, validated" "$dig +dnssec nope.gslb.example A" \
		$ad answer=0 'has=status: (NXDOMAIN|NOERROR),'
	check "unbound: NS of the zone" "$dig +dnssec gslb.example NS" status=NOERROR $ad count=2:'IN[[:space:]]+NS[[:space:]]+ns[12]\.gslb\.example\.$'
	check "unbound: AAAA, Asia -> ap-southeast's IPv6 proxy, scope /24" "$dig +dnssec www.gslb.example AAAA +subnet=203.0.113.1/24" \
		status=NOERROR $ad "has=IN[[:space:]]+AAAA[[:space:]]+${V6_AP}$" 'has=CLIENT-SUBNET: 203\.0\.113\.0/24/24$'
	check "unbound: AAAA, Europe -> eu-west's IPv6 proxy" "$dig +dnssec www.gslb.example AAAA +subnet=192.0.2.1/24" \
		status=NOERROR $ad "has=IN[[:space:]]+AAAA[[:space:]]+${V6_EU}$"
	if [[ $dnssec == 1 ]]; then
		check "unbound: gslb.example DNSKEY validated from the root" "$dig +dnssec gslb.example DNSKEY" \
			status=NOERROR flags+=ad 'has=DNSKEY[[:space:]]+257 3 13 '
		check "delv through unbound, root trust anchor: steered answer fully validated" \
			"delv @127.0.0.99 -a $W/root-anchor.conf www.gslb.example A" 'has=^; fully validated'
	fi
}

# zonemaster DS: zonemaster-cli, undelegated (--ns, and --ds when the zone
# is signed), with the fake root as its hints. No CRITICAL; no ERROR but
# ADDRESS01 for the loopback glue, which this environment imposes (see
# README.md: the glue has to be 127.0.0.x here, and every address zonemaster
# would call routable belongs to someone else).
zonemaster() {
	local ds=$1 dsarg="" out rc lvl n
	if [[ -n $ds ]]; then
		# "gslb.example. IN DS 12345 13 2 ABCD" -> --ds 12345,13,2,ABCD
		dsarg=" --ds $(awk '{print $(NF-3)","$(NF-2)","$(NF-1)","$NF}' <<<"$ds")"
	fi
	local cmd="zonemaster-cli --no-ipv6 --hints $W/root.hints --ns ns1.gslb.example/127.0.0.1 --ns ns2.gslb.example/127.0.0.2$dsarg --level DEBUG --show-testcase gslb.example"
	local zm=$W/logs/zonemaster.out
	log "zonemaster-cli (undelegated)"
	printf '      $ %s\n' "$cmd"
	# shellcheck disable=SC2086 # $cmd is the command line printed above
	out=$(timeout 300 $cmd 2>&1)
	rc=$?
	printf '%s\n' "$out" >"$zm"
	grep -E '^[[:space:]]*[0-9.]+[[:space:]]+(CRITICAL|ERROR|WARNING|NOTICE)[[:space:]]' <<<"$out" | sed -E 's/^[[:space:]]*[0-9.]+[[:space:]]+/      /'
	for lvl in CRITICAL ERROR WARNING NOTICE INFO; do
		n=$(grep -Ec "^[[:space:]]*[0-9.]+[[:space:]]+${lvl}[[:space:]]" <<<"$out")
		printf '      %s %s' "$lvl" "$n"
	done
	echo
	if [[ $rc != 0 ]]; then
		fail "zonemaster-cli: ran to the end" "exit status $rc; the last lines: $(tail -n 3 <<<"$out")"
		return
	fi
	# Test cases log nothing above DEBUG when all is well: check that each
	# one started and ended.
	local want="address0[1-3] basic0[12] connectivity0[1-3] consistency0[1-6] delegation0[1-7] nameserver0[1-9] nameserver1[0-3] syntax0[1-8] zone0[1-9] zone10"
	[[ -n $ds ]] && want="$want dnssec0[1-9] dnssec1[0-3]"
	local cases=() c
	for c in $want; do cases+=("has=(^| )$c( |$)"); done
	check "zonemaster-cli: every test case ran ($want)" "grep -Eo 'TEST_CASE_END [a-z]+[0-9]+' $zm | awk '{print \$2}' | sort -u | tr '\\n' ' '" "${cases[@]}"
	check "zonemaster-cli: no CRITICAL" "grep -E ' CRITICAL ' $zm" not=.
	check "zonemaster-cli: no ERROR but ADDRESS01 on the loopback glue (environment)" \
		"grep -E ' ERROR ' $zm | grep -Ev ' ADDRESS01 +Nameserver ns[12]\.gslb\.example has an IP address \(127\.0\.0\.[12]\) with prefix 127/8 .*Loopback'" not=.
}

# wildcard BIN: a server bound to the wildcard addresses answers from the
# address each query was sent to (IP_PKTINFO / IPV6_PKTINFO), IPv4 and
# IPv6, also IPv4 through a dual-stack [::] socket; dig ignores a reply
# from another source ("reply from unexpected source") and times out.
wildcard() {
	local m=$1 dig="dig +time=2 +tries=1"
	log "meridian dns on 0.0.0.0:5354 and [::]:5355 (wildcard binds)"
	start wild "$m" dns --listen 0.0.0.0:5354,[::]:5355 --etcd-endpoints http://127.0.0.1:2379 \
		--admin '' --state-dir "$W/wild-state"
	wait_for "meridian dns (wildcard)" sh -c "dig @127.0.0.1 -p 5354 +time=1 +tries=1 gslb.example SOA | grep -q 'status: NOERROR'"
	local a p
	for a in 127.0.0.1 127.0.0.2 127.0.0.13; do
		check "wildcard 0.0.0.0: asked at $a, answered from $a" "$dig @$a -p 5354 www.gslb.example A +subnet=192.0.2.1/24" \
			status=NOERROR answer=1 "has=SERVER: ${a//./\\.}#5354" "not=unexpected source"
	done
	for a in ::1 "$V6_AP" 127.0.0.2; do
		check "wildcard [::]: asked at $a, answered from $a" "$dig @$a -p 5355 www.gslb.example A +subnet=192.0.2.1/24" \
			status=NOERROR answer=1 "not=unexpected source"
	done
	check "wildcard [::] over TCP" "$dig +tcp @::1 -p 5355 www.gslb.example A" status=NOERROR answer=1
}

inner() {
	W=$1
	mkdir -p "$W/logs"
	trap cleanup EXIT
	trap 'exit 143' TERM INT
	ip link set lo up || die "ip link set lo up (no network namespace?)"
	export PATH="$W:$PATH"
	local m=$W/meridian
	local t0=$SECONDS

	log "meridian dev: DNS 127.0.0.1:5353, etcd 127.0.0.1:2379, admin 127.0.0.1:9153"
	start dev "$m" dev --dns 127.0.0.1:5353 --etcd-listen http://127.0.0.1:2379 --admin 127.0.0.1:9153 \
		--proxy-port 8080 --backend-port-base 9100 --data-dir "$W/dev" --no-cheat-sheet
	# /readyz: DNS up and the demo's health data complete (health_settled).
	wait_for "meridian dev (/readyz)" curl -fsS --max-time 1 http://127.0.0.1:9153/readyz
	local a
	for a in $V6_EU $V6_US $V6_AP; do
		ip -6 addr add "$a/128" dev lo || die "ip -6 addr add $a/128 dev lo (IPv6 disabled?)"
	done
	start healthz "$W/dnsprobe" healthz -listen "[$V6_EU]:8080,[$V6_US]:8080,[$V6_AP]:8080"
	extra_policy >"$W/extra-policy.json"
	"$m" policy apply "$W/extra-policy.json" --etcd-endpoints http://127.0.0.1:2379 >"$W/logs/policy-apply.log" 2>&1 ||
		die "meridian policy apply: $(cat "$W/logs/policy-apply.log")"
	wait_for "the test records" sh -c "dig @127.0.0.1 -p 5353 +time=1 +tries=1 +tcp big.gslb.example TXT | grep -q 'ANSWER: 8'"
	# The demo's regions are eligible once the prober has seen each proxy
	# address up (rise 2 at 1s): wait for each range to reach its own
	# region, in both families.
	wait_for "the demo regions (health)" sh -c "
		dig @127.0.0.1 -p 5353 +time=1 +tries=1 +short www.gslb.example +subnet=192.0.2.1/24 | grep -qx 127.0.0.11 &&
		dig @127.0.0.1 -p 5353 +time=1 +tries=1 +short www.gslb.example +subnet=198.51.100.1/24 | grep -qx 127.0.0.12 &&
		dig @127.0.0.1 -p 5353 +time=1 +tries=1 +short www.gslb.example +subnet=203.0.113.1/24 | grep -qx 127.0.0.13 &&
		dig @127.0.0.1 -p 5353 +time=1 +tries=1 +short api.gslb.example | grep -qx 127.0.0.12 &&
		dig @127.0.0.1 -p 5353 +time=1 +tries=1 +short www.gslb.example AAAA +subnet=192.0.2.1/24 | grep -qx $V6_EU &&
		dig @127.0.0.1 -p 5353 +time=1 +tries=1 +short www.gslb.example AAAA +subnet=198.51.100.1/24 | grep -qx $V6_US &&
		dig @127.0.0.1 -p 5353 +time=1 +tries=1 +short www.gslb.example AAAA +subnet=203.0.113.1/24 | grep -qx $V6_AP"

	# DNSSEC keys, when this build signs.
	local dnssec=0 ds="" keyflag=()
	# (-h exits 2: look at the text, not the status.)
	local usage
	usage=$("$m" dnssec -h 2>&1; "$m" dns -h 2>&1)
	if grep -q 'dnssec keygen' <<<"$usage" && grep -q -- '-dnssec-keys' <<<"$usage"; then
		dnssec=1
		mkdir -p "$W/keys"
		"$m" dnssec keygen gslb.example. --dir "$W/keys" >"$W/logs/keygen.log" 2>&1 || die "meridian dnssec keygen: $(cat "$W/logs/keygen.log")"
		ds=$("$m" dnssec ds gslb.example. --dir "$W/keys") || die "meridian dnssec ds"
		keyflag=(--dnssec-keys "$W/keys")
		local pub
		pub=$(grep -hv '^;' "$W"/keys/Kgslb.example.+013+*.key | awk '{for (i = 1; i <= NF; i++) if ($i == "DNSKEY") {k = ""; for (j = i + 4; j <= NF; j++) k = k $j; print k}}')
		printf 'trust-anchors { gslb.example. static-key 257 3 13 "%s"; };\n' "$pub" >"$W/gslb-anchor.conf"
		mkdir -p "$W/wrong-key"
		"$m" dnssec keygen gslb.example. --dir "$W/wrong-key" >/dev/null 2>&1 || die "meridian dnssec keygen (wrong key)"
		pub=$(grep -hv '^;' "$W"/wrong-key/Kgslb.example.+013+*.key | awk '{for (i = 1; i <= NF; i++) if ($i == "DNSKEY") {k = ""; for (j = i + 4; j <= NF; j++) k = k $j; print k}}')
		printf 'trust-anchors { gslb.example. static-key 257 3 13 "%s"; };\n' "$pub" >"$W/wrong-anchor.conf"
	fi

	log "meridian dns: 127.0.0.1:53 and 127.0.0.2:53 (the zone's glue), production defaults${keyflag:+, --dnssec-keys}"
	start dns "$m" dns --listen 127.0.0.1:53,127.0.0.2:53 --etcd-endpoints http://127.0.0.1:2379 \
		--admin 127.0.0.1:9154 --state-dir "$W/dns-state" --nsid ns.conformance "${keyflag[@]}"
	wait_for "meridian dns (/readyz)" curl -fsS --max-time 1 http://127.0.0.1:9154/readyz

	chain "$ds"
	local ta
	ta=$(awk '{for (i = 1; i <= NF; i++) if ($i == "DNSKEY") {k = ""; for (j = i + 4; j <= NF; j++) k = k $j; print k}}' "$W/root.key" | head -1)
	printf 'trust-anchors { . static-key 257 3 13 "%s"; };\n' "$ta" >"$W/root-anchor.conf"
	unbound_conf
	start unbound unbound -d -c "$W/unbound/unbound.conf"
	wait_for "unbound" dig @127.0.0.99 +time=1 +tries=1 example. SOA
	log "servers up after $((SECONDS - t0))s"

	behaviour "dev" 127.0.0.1 5353 meridian-dev
	behaviour "dns" 127.0.0.2 53 ns.conformance
	wildcard "$m"
	if [[ $dnssec == 1 ]]; then
		dnssec_direct "dns" 127.0.0.1 53 "$W/gslb-anchor.conf"
	else
		fail "DNSSEC: not available in this build" "bin/meridian has no 'dnssec keygen' command or 'dns --dnssec-keys' flag: zone served unsigned, no DNSSEC check ran"
	fi
	resolver "$dnssec"
	zonemaster "$ds"

	log "done in $((SECONDS - t0))s"
	if ((FAIL > 0)); then
		# Health changes seen by the dev prober and proxies, for failures
		# that depend on which regions were up.
		echo "health changes in meridian dev (logs/dev.log):"
		grep -E '"msg":"(target state|backend (up|down)|backend ejected)"|msg="?(target state|backend (up|down)|backend ejected)' "$W/logs/dev.log" | tail -20 | sed 's/^/  /'
		echo "failed:"
		printf '  %s\n' "${FAILED[@]}"
	fi
	echo "$PASS passed, $FAIL failed"
	((FAIL == 0))
}

if [[ ${1:-} == --inside ]]; then
	inner "$2"
else
	outer "$@"
fi
