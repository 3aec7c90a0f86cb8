#!/usr/bin/env bash
# The demo: start the lab (if it is not up yet), federate its three clusters
# with kubectl fed, apply a load-balanced sample app to all of them at once,
# and answer for it with coredns-fed: in every cluster, in one region, in one
# zone, and again while one cluster's load balancer is down.
# Run it with `make demo`, which builds everything and sets PATH. Running it
# again is safe: init, join and apply change only what differs, and the
# coredns-fed of the last run is replaced.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
LAB_DIR=${LAB_DIR:-.lab}
DNS_PORT=${DNS_PORT:-1053}
export KUBECONFIG=$LAB_DIR/kubeconfig

federation=magicring
domain=demo.example.com
app=hello.default.$federation.svc.$domain

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
# run shows a command, then runs it.
run() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }

# http_get ADDRESS PORT: one plain HTTP GET over bash's /dev/tcp, so the demo
# needs no HTTP client on the machine.
http_get() {
	exec 3<>"/dev/tcp/$1/$2"
	printf 'GET / HTTP/1.0\r\nHost: %s\r\n\r\n' "$1" >&3
	sed -n '/^\r$/,$p' <&3 | tail -n +2
	exec 3<&-
}

if kfed-lab status --dir "$LAB_DIR" >/dev/null 2>&1; then
	step "The lab is already running in $LAB_DIR"
else
	step "Starting the lab: three real clusters on loopback"
	kfed-lab up --dir "$LAB_DIR" --bin "$LAB_BIN"
fi
# coredns-fed runs from here on in the background: absolute paths only.
LAB_DIR=$(cd "$LAB_DIR" && pwd)
export KUBECONFIG=$LAB_DIR/kubeconfig

contexts=$(kubectl config get-contexts -o name)
step "The clusters, with their regions and zones"
for ctx in $contexts; do
	echo "--- $ctx ($(kubectl --context "$ctx" version -o json | jq -r .serverVersion.gitVersion 2>/dev/null || echo '?'))"
	kubectl --context "$ctx" get nodes -L topology.kubernetes.io/region,topology.kubernetes.io/zone
done

step "Creating the federation $federation in the host cluster usa, and joining the three clusters"
run kubectl fed init "$federation" --context usa --domain "$domain"
# The host first, then the others.
for ctx in usa $(grep -vx usa <<<"$contexts"); do
	run kubectl fed join "$ctx" --context usa --cluster-context "$ctx"
done
run kubectl fed clusters --context usa

step "Applying the sample app once, to every member: its replicas are split over them"
run kubectl fed apply -f "$here/hello.yaml" --context usa
for ctx in $contexts; do
	kubectl --context "$ctx" rollout status deployment/hello --timeout=120s
done
run kubectl fed get deploy,svc -A --context usa

step "Each cluster's load balancer answering over real HTTP"
declare -A lb
for ctx in $contexts; do
	addr=""
	for _ in $(seq 1 100); do
		addr=$(kubectl --context "$ctx" get service hello -o jsonpath='{.status.loadBalancer.ingress[0].ip}')
		[ -n "$addr" ] && break
		sleep 0.2
	done
	[ -n "$addr" ] || { echo "error: no load-balancer address for service hello in $ctx" >&2; exit 1; }
	lb[$ctx]=$addr
	echo "--- $ctx: http://$addr/"
	for _ in $(seq 1 50); do
		http_get "$addr" 80 2>/dev/null && break
		sleep 0.2
	done
done

step "Starting coredns-fed on 127.0.0.1:$DNS_PORT, authoritative for $domain"
# stop_earlier PIDFILE: stop the coredns-fed of an earlier run, if that PID
# is still it.
stop_earlier() {
	local pid
	if [ -f "$1" ]; then
		pid=$(cat "$1")
		if grep -qa coredns-fed "/proc/$pid/cmdline" 2>/dev/null; then
			echo "stopping the coredns-fed of an earlier run (pid $pid)"
			kill "$pid"
			for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		fi
		rm -f "$1"
	fi
}
pidfile=$LAB_DIR/coredns-fed.pid
stop_earlier "$pidfile"
cat >"$LAB_DIR/Corefile" <<EOF
$domain {
    bind 127.0.0.1
    fed $federation {
        kubeconfig $LAB_DIR/kubeconfig usa
        ns ns1.$domain 127.0.0.1
    }
    errors
}
EOF
cat "$LAB_DIR/Corefile"
nohup coredns-fed -conf "$LAB_DIR/Corefile" -dns.port "$DNS_PORT" </dev/null >"$LAB_DIR/coredns-fed.log" 2>&1 &
echo $! >"$pidfile"
echo "coredns-fed is running as pid $(cat "$pidfile"), logging to $LAB_DIR/coredns-fed.log"

# dig is not on every machine: a small Go client asks instead.
dnsq=$LAB_DIR/dnsq
(cd "$root" && go build -o "$dnsq" ./test/demo/dnsq)
dnsq() { "$dnsq" -s "127.0.0.1:$DNS_PORT" "$@"; }
pid=$(cat "$pidfile")
for i in $(seq 1 60); do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "error: coredns-fed exited; its log:" >&2
		tail -n 20 "$LAB_DIR/coredns-fed.log" >&2
		rm -f "$pidfile"
		exit 1
	fi
	# Ready once the sample app has an answer.
	dnsq -wait 1s "$app" >/dev/null 2>&1 && break
	if [ "$i" = 60 ]; then
		echo "error: coredns-fed did not answer for $app within a minute; its log:" >&2
		tail -n 20 "$LAB_DIR/coredns-fed.log" >&2
		exit 1
	fi
done

step "Every cluster's address, for the global name"
printf '\033[2m$ dnsq %s\033[0m\n' "$app"
dnsq "$app"
region=eu-west-1
zone=ap-northeast-1a.ap-northeast-1
step "One region's and one zone's addresses"
dnsq "hello.default.$federation.svc.$region.$domain" "hello.default.$federation.svc.$zone.$domain"
step "SRV for the named port http"
dnsq -t SRV "_http._tcp.$app"

down=${lb[eur]}
step "Taking eur's load-balancer address $down down: it leaves the answers"
run kfed-lab lb down "$down" --dir "$LAB_DIR"
dnsq -wait 30s -without "$down" "$app"
echo "and $region, with nothing healthy, answers with the global addresses:"
dnsq "hello.default.$federation.svc.$region.$domain"

step "Bringing it back up: it returns"
run kfed-lab lb up "$down" --dir "$LAB_DIR"
dnsq -wait 30s -with "$down" "$app"

GEO_DNS_PORT=${GEO_DNS_PORT:-1054}
geo_pidfile=$LAB_DIR/coredns-fed-geo.pid
step "Starting a second coredns-fed on 127.0.0.1:$GEO_DNS_PORT, answering with the nearest cluster (policy geo)"
stop_earlier "$geo_pidfile"
# A small city database: 192.0.2.0/24 in Tokyo, 198.51.100.0/24 in Dublin,
# 203.0.113.0/24 in Ashburn, Virginia.
(cd "$root" && go run ./test/demo/geodb "$LAB_DIR/demo.mmdb")
cat >"$LAB_DIR/Corefile.geo" <<EOF
$domain {
    bind 127.0.0.1
    fed $federation {
        kubeconfig $LAB_DIR/kubeconfig usa
        ns ns1.$domain 127.0.0.1
        policy geo
        geoip $LAB_DIR/demo.mmdb
    }
    errors
}
EOF
cat "$LAB_DIR/Corefile.geo"
nohup coredns-fed -conf "$LAB_DIR/Corefile.geo" -dns.port "$GEO_DNS_PORT" </dev/null >"$LAB_DIR/coredns-fed-geo.log" 2>&1 &
echo $! >"$geo_pidfile"
echo "coredns-fed (geo) is running as pid $(cat "$geo_pidfile"), logging to $LAB_DIR/coredns-fed-geo.log"
geo_dnsq() { "$dnsq" -s "127.0.0.1:$GEO_DNS_PORT" "$@"; }
pid=$(cat "$geo_pidfile")
for i in $(seq 1 60); do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "error: coredns-fed (geo) exited; its log:" >&2
		tail -n 20 "$LAB_DIR/coredns-fed-geo.log" >&2
		rm -f "$geo_pidfile"
		exit 1
	fi
	geo_dnsq -wait 1s "$app" >/dev/null 2>&1 && break
	if [ "$i" = 60 ]; then
		echo "error: coredns-fed (geo) did not answer for $app within a minute; its log:" >&2
		tail -n 20 "$LAB_DIR/coredns-fed-geo.log" >&2
		exit 1
	fi
done

step "The same name from clients in three cities (EDNS Client Subnet): each gets its nearest cluster"
for client in "Tokyo 192.0.2.0/24 jpn" "Dublin 198.51.100.0/24 eur" "Ashburn 203.0.113.0/24 usa"; do
	read -r city subnet want <<<"$client"
	printf '\033[2m$ dnsq -s 127.0.0.1:%s -ecs %s %s\033[0m\n' "$GEO_DNS_PORT" "$subnet" "$app"
	out=$(geo_dnsq -wait 30s -with "${lb[$want]}" -ecs "$subnet" "$app") || {
		echo "error: a client in $city did not get $want's address ${lb[$want]}; it got:" >&2
		geo_dnsq -ecs "$subnet" "$app" >&2 || true
		exit 1
	}
	echo "$out"
	got=""
	for addr in $(awk '$4 == "A" {print $5}' <<<"$out"); do
		for ctx in $contexts; do
			[ "${lb[$ctx]}" = "$addr" ] && got="$got $ctx"
		done
	done
	echo "a client in $city ($subnet) gets:${got:- nothing}"
done

step "Done. The lab and coredns-fed are still running."
echo "  export KUBECONFIG=$LAB_DIR/kubeconfig"
echo "  $dnsq -s 127.0.0.1:$DNS_PORT $app"
echo "  kfed-lab status --dir $LAB_DIR        # programs and memory"
echo "  kfed-lab lb down ${lb[jpn]} --dir $LAB_DIR   # break jpn's load balancer"
echo "  kfed-lab apiserver stop eur --dir $LAB_DIR  # break a cluster's control plane"
echo "  $dnsq -s 127.0.0.1:$GEO_DNS_PORT -ecs 192.0.2.0/24 $app   # as a client in Tokyo"
echo "Stop coredns-fed with: kill \$(cat $pidfile) \$(cat $geo_pidfile)"
if [ "$LAB_DIR" = "$root/.lab" ]; then
	echo "Stop the lab with:     make lab-down"
else
	echo "Stop the lab with:     make lab-down LAB_DIR=$LAB_DIR"
fi
