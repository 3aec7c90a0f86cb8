#!/usr/bin/env bash
# The demo: start the lab (if it is not up yet), federate its three clusters
# with kubectl fed, apply a load-balanced sample app to all of them at once,
# and answer for it with coredns-fed: in every cluster, in one region, in one
# zone, and again while one cluster's load balancer is down. Then install
# coredns-fed into every cluster with kubectl fed dns install, and resolve
# the app through the delegation it prints, with a real recursive resolver.
# Run it with `make demo`, which builds everything and sets PATH. Running it
# again is safe: init, join and apply change only what differs, and the
# servers of the last run are replaced.
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
# shown prints a command as one would type it: arguments with characters a
# shell would read go in single quotes.
shown() {
	local a out=()
	for a in "$@"; do
		if [[ $a =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
			out+=("$a")
		else
			out+=("'${a//\'/\'\\\'\'}'")
		fi
	done
	echo "${out[*]}"
}
# run shows a command, then runs it.
run() { printf '\033[2m$ %s\033[0m\n' "$(shown "$@")"; "$@"; }

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
# stop_earlier PIDFILE...: stop the coredns-fed or unbound of an earlier
# run, if each PID is still one of them. They are stopped together: a
# coredns-fed with the health plugin's lameduck takes 5 s to exit.
stop_earlier() {
	local f pid pids=()
	for f in "$@"; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		if grep -qaE 'coredns-fed|unbound' "/proc/$pid/cmdline" 2>/dev/null; then
			echo "stopping the $(basename "$f" .pid) of an earlier run (pid $pid)"
			kill "$pid"
			pids+=("$pid")
		fi
		rm -f "$f"
	done
	for pid in "${pids[@]}"; do
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	done
}
# await_answer WHAT PIDFILE LOG SERVER DNSQ-ARGS...: wait up to a minute
# until the server started as PIDFILE answers a dnsq query with records;
# fail, with the end of its LOG, if it exits or does not.
await_answer() {
	local what=$1 pidfile=$2 log=$3 server=$4 pid deadline=$((SECONDS + 60))
	shift 4
	pid=$(cat "$pidfile")
	while ! "$dnsq" -s "$server" -wait 1s "$@" >/dev/null 2>&1; do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "error: $what exited; its log:" >&2
			tail -n 20 "$log" >&2
			rm -f "$pidfile"
			exit 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "error: $what did not answer $* within a minute; its log:" >&2
			tail -n 20 "$log" >&2
			exit 1
		fi
	done
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
# Ready once the sample app has an answer.
await_answer coredns-fed "$pidfile" "$LAB_DIR/coredns-fed.log" "127.0.0.1:$DNS_PORT" "$app"

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
await_answer "coredns-fed (geo)" "$geo_pidfile" "$LAB_DIR/coredns-fed-geo.log" "127.0.0.1:$GEO_DNS_PORT" "$app"

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

# The delegation: `kubectl fed dns install --all-clusters` puts coredns-fed
# into every cluster and prints the NS and glue records for the parent zone.
# The lab's pods are kwok fakes, so the demo stands in for the kubelet and
# runs each cluster's coredns-fed itself, on its Service's load-balancer
# address, port 53, with the Corefile and settings install wrote. A parent
# zone holding the printed records, and Debian's unbound resolving through
# it, make the delegation real, all on loopback.
PARENT_DNS_PORT=${PARENT_DNS_PORT:-1055}
RESOLVER_DNS_PORT=${RESOLVER_DNS_PORT:-1056}
parent=example.com
deleg=$LAB_DIR/delegation

# run_to FILE COMMAND...: show a command, then run it with its output, which
# may hold a credential, into FILE, readable by the owner only.
run_to() {
	local file=$1
	shift
	printf '\033[2m$ %s > %s\033[0m\n' "$(shown "$@")" "$file"
	(umask 077 && "$@" >"$file")
}

# resolve DNSQ-ARGS...: show a query to unbound, then ask it.
resolve() {
	printf '\033[2m$ dnsq -s 127.0.0.1:%s %s\033[0m\n' "$RESOLVER_DNS_PORT" "$(shown "$@")"
	"$dnsq" -s "127.0.0.1:$RESOLVER_DNS_PORT" "$@"
}

# find_unbound prints the path of unbound; Debian installs it in /usr/sbin,
# which a user's PATH may lack.
find_unbound() {
	command -v unbound || { [ -x /usr/sbin/unbound ] && echo /usr/sbin/unbound; }
}

# outside_pod rewrites the Corefile of ctx (on stdin) for a coredns-fed
# outside a pod, changing only what must change: bind every server block to
# the load-balancer address addr (the pod binds every address of its own),
# move health, ready
# and prometheus from ports of the pod to the same ports of that address
# (which the lab's load balancer leaves free, like port 53), keep the
# snapshot in the demo's directory instead of the pod's emptyDir, and read
# the host with the kubeconfig file kc.
outside_pod() {
	local ctx=$1 addr=$2 kc=$3 out
	local script=(
		-e "s|^(\S.* \{)\$|\1\n    bind $addr|"
		-e "s#^(\s*)(health|ready|prometheus) :([0-9]+)#\1\2 $addr:\3#"
		-e "s|^(\s*snapshot) /var/lib/coredns-fed/snapshot\$|\1 $LAB_DIR/delegation/snapshot.$ctx|"
	)
	if [ "$ctx" = usa ]; then
		# In the host, the pod reads the federation in-cluster: no
		# kubeconfig line to replace, one to add.
		script+=(-e "s|^(\s*fed \{\\\$KFED_FEDERATION\} \{)\$|\1\n        kubeconfig $kc|")
	else
		script+=(-e "s|kubeconfig /etc/kfed-host/kubeconfig\$|kubeconfig $kc|")
	fi
	out=$(sed -E "${script[@]}")
	if ! grep -q "^    bind $addr\$" <<<"$out" || ! grep -q "kubeconfig $kc\$" <<<"$out" ||
		[ "$(grep -cE "^\s*(health|ready|prometheus) $addr:[0-9]+" <<<"$out")" != 3 ]; then
		echo "error: could not rewrite the Corefile of $ctx for a coredns-fed outside a pod; has install's Corefile changed? It is:" >&2
		echo "$out" >&2
		exit 1
	fi
	echo "$out"
}

# wait_port_free ADDRESS PORT: wait up to 15 s until nothing accepts TCP on
# ADDRESS:PORT: the lab's load balancer lets go of it once it sees the
# annotation (and it has no UDP listeners).
wait_port_free() {
	local deadline=$((SECONDS + 15))
	while (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "error: $1:$2 is still taken 15 s after the annotation" >&2
			exit 1
		fi
		sleep 0.1
	done
}

delegation() {
	local port_start unbound sudo ctx addr kc token server ca replicas settings member_shown=""
	local -A ns
	port_start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)
	if [ "$(id -u)" -ne 0 ] && [ "$port_start" -gt 53 ]; then
		step "Skipping the delegation: it serves DNS on port 53 of load-balancer addresses, which needs root"
		echo "Run make demo as root to see coredns-fed in every cluster answer through a real resolver."
		return 0
	fi
	if ! unbound=$(find_unbound); then
		# As `make e2e` does. Installing the package may start its service
		# (where an init system runs and policy allows): stop and disable
		# it, so that nothing of it holds 127.0.0.1:53 or rewrites
		# resolv.conf.
		step "Installing Debian's unbound, the recursive resolver of the delegation step"
		sudo=$([ "$(id -u)" -eq 0 ] || echo sudo)
		if ! command -v apt-get >/dev/null ||
			! { run $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y unbound || { run $sudo apt-get update && run $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y unbound; }; } ||
			! unbound=$(find_unbound); then
			step "Skipping the delegation: unbound is not installed, and apt-get could not install it"
			echo "Install Debian's unbound (apt-get install unbound), then run make demo again."
			return 0
		fi
		if [ -d /run/systemd/system ]; then
			$sudo systemctl disable --now unbound-resolvconf.service unbound.service || true
		elif command -v service >/dev/null && $sudo service unbound status >/dev/null 2>&1; then
			$sudo service unbound stop || true
		fi
	fi
	mkdir -p "$deleg"

	step "Installing coredns-fed into the host and every member; it prints the records for the parent zone"
	run kubectl fed dns install --context usa --all-clusters --ttl 5 | tee "$deleg/install.out"
	awk -F'\t' '$2 == "IN"' "$deleg/install.out" >"$deleg/records"
	[ -s "$deleg/records" ] || { echo "error: install printed no records" >&2; exit 1; }

	step "Standing in for the kubelet: each cluster's coredns-fed, run here on its Service's address, port 53"
	stop_earlier "$deleg"/*.pid
	for ctx in $contexts; do
		echo "--- $ctx"
		# The load balancer keeps the address, and opens nothing on it.
		run kubectl --context "$ctx" -n kfed-system annotate service coredns-fed lab.kfed.dev/listen=false --overwrite
		addr=$(kubectl --context "$ctx" -n kfed-system get service coredns-fed -o jsonpath='{.status.loadBalancer.ingress[0].ip}')
		[ -n "$addr" ] || { echo "error: no load-balancer address for service coredns-fed in $ctx" >&2; exit 1; }
		ns[$ctx]=$addr
		kc=$deleg/kubeconfig.$ctx
		if [ "$ctx" = usa ]; then
			# In a pod, the host's coredns-fed reads the federation as its
			# ServiceAccount coredns-fed, with the token the kubelet
			# projects. Here a kubeconfig holds the host's address and CA
			# and such a token, for a day (the kubelet's would be rotated):
			# the same rights as the pod's, not the lab's admin ones.
			printf '\033[2m$ %s\033[0m\n' "kubectl --context usa -n kfed-system create token coredns-fed --duration 24h   # into $kc"
			token=$(kubectl --context usa -n kfed-system create token coredns-fed --duration 24h)
			server=$(kubectl config view --minify --context usa -o jsonpath='{.clusters[0].cluster.server}')
			ca=$(kubectl config view --raw --minify --context usa -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
			(umask 077 && cat >"$kc" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: usa
  cluster:
    server: $server
    certificate-authority-data: $ca
users:
- name: coredns-fed
  user:
    token: $token
contexts:
- name: coredns-fed
  context:
    cluster: usa
    user: coredns-fed
    namespace: kfed-system
current-context: coredns-fed
EOF
			)
		else
			# A member's pod mounts the Secret that install wrote at
			# /etc/kfed-host: a kubeconfig that reaches the host as its
			# coredns-fed ServiceAccount.
			run_to "$kc" kubectl --context "$ctx" -n kfed-system get secret coredns-fed-host -o go-template='{{index .data "kubeconfig" | base64decode}}'
		fi
		run_to "$deleg/Corefile.$ctx.pod" kubectl --context "$ctx" -n kfed-system get configmap coredns-fed -o go-template='{{index .data "Corefile"}}'
		outside_pod "$ctx" "$addr" "$kc" <"$deleg/Corefile.$ctx.pod" >"$deleg/Corefile.$ctx"
		# Once for the host and once for a member: the other members'
		# differ from the first's in the address and file names only.
		if [ "$ctx" = usa ] || [ -z "$member_shown" ]; then
			echo "What changes outside a pod:"
			diff -u --label "Corefile of $ctx (ConfigMap coredns-fed)" --label "$deleg/Corefile.$ctx" "$deleg/Corefile.$ctx.pod" "$deleg/Corefile.$ctx" || true
			[ "$ctx" = usa ] || member_shown=$ctx
		else
			echo "Outside a pod, its Corefile changes as $member_shown's does, with $addr: $deleg/Corefile.$ctx"
		fi
		# The pod's envFrom: the Corefile's {$KFED_DOMAIN} and {$KFED_FEDERATION}.
		mapfile -t settings < <(kubectl --context "$ctx" -n kfed-system get configmap coredns-fed-settings -o go-template='{{range $k, $v := .data}}{{$k}}={{$v}}{{"\n"}}{{end}}')
		wait_port_free "$addr" 53
		printf '\033[2m$ %s\033[0m\n' "env ${settings[*]} coredns-fed -conf $deleg/Corefile.$ctx &"
		nohup env "${settings[@]}" coredns-fed -conf "$deleg/Corefile.$ctx" </dev/null >"$deleg/coredns-fed-$ctx.log" 2>&1 &
		echo $! >"$deleg/coredns-fed-$ctx.pid"
		echo "coredns-fed of $ctx is running as pid $!, logging to $deleg/coredns-fed-$ctx.log"
	done
	for ctx in $contexts; do
		await_answer "coredns-fed of $ctx" "$deleg/coredns-fed-$ctx.pid" "$deleg/coredns-fed-$ctx.log" "${ns[$ctx]}:53" "$app"
	done

	step "The parent zone $parent, holding those records, served by coredns-fed's file plugin on 127.0.0.1:$PARENT_DNS_PORT"
	{
		printf '$ORIGIN %s.\n$TTL 3600\n' "$parent"
		printf '@\tIN\tSOA\tns.%s. hostmaster.%s. 1 7200 3600 1209600 5\n' "$parent" "$parent"
		printf '@\tIN\tNS\tns.%s.\nns\tIN\tA\t127.0.0.1\n' "$parent"
		cat "$deleg/records"
	} >"$deleg/db.$parent"
	cat >"$deleg/Corefile.parent" <<EOF
$parent {
    bind 127.0.0.1
    file $deleg/db.$parent
    errors
}
EOF
	cat "$deleg/db.$parent"
	nohup coredns-fed -conf "$deleg/Corefile.parent" -dns.port "$PARENT_DNS_PORT" </dev/null >"$deleg/coredns-fed-parent.log" 2>&1 &
	echo $! >"$deleg/coredns-fed-parent.pid"
	echo "coredns-fed (parent) is running as pid $!, logging to $deleg/coredns-fed-parent.log"
	await_answer "coredns-fed (parent)" "$deleg/coredns-fed-parent.pid" "$deleg/coredns-fed-parent.log" "127.0.0.1:$PARENT_DNS_PORT" -t SOA "$parent"

	step "Checking every server, and the delegation in the parent"
	run kubectl fed dns check --context usa --name hello.default --parent "127.0.0.1:$PARENT_DNS_PORT"

	step "A recursive resolver, unbound, on 127.0.0.1:$RESOLVER_DNS_PORT: it starts at the parent, and follows the delegation"
	# Stubs for $parent and the root send every question to the parent, so
	# nothing leaves loopback; do-not-query-localhost: no lets it ask
	# 127.x.y.z servers; module-config "iterator" turns DNSSEC validation
	# off, and with it the fetching of a trust anchor.
	cat >"$deleg/unbound.conf" <<EOF
server:
    interface: 127.0.0.1@$RESOLVER_DNS_PORT
    port: $RESOLVER_DNS_PORT
    outgoing-interface: 127.0.0.1
    access-control: 127.0.0.0/8 allow
    do-ip6: no
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "$deleg"
    logfile: ""
    use-syslog: no
    log-time-ascii: yes
    log-replies: yes
    num-threads: 1
    module-config: "iterator"
    do-not-query-localhost: no
stub-zone:
    name: "$parent."
    stub-addr: 127.0.0.1@$PARENT_DNS_PORT
stub-zone:
    name: "."
    stub-addr: 127.0.0.1@$PARENT_DNS_PORT
EOF
	cat "$deleg/unbound.conf"
	printf '\033[2m$ %s\033[0m\n' "$unbound -d -p -c $deleg/unbound.conf &"
	nohup "$unbound" -d -p -c "$deleg/unbound.conf" </dev/null >"$deleg/unbound.log" 2>&1 &
	echo $! >"$deleg/unbound.pid"
	echo "unbound is running as pid $!, logging to $deleg/unbound.log"
	await_answer unbound "$deleg/unbound.pid" "$deleg/unbound.log" "127.0.0.1:$RESOLVER_DNS_PORT" -t SOA "$parent"

	step "Resolving through unbound: the parent refers it to coredns-fed, whose answer it keeps for the TTL, 5 s"
	resolve -t NS "$domain"
	resolve -wait 20s "$app"

	replicas=$(kubectl --context jpn get deployment hello -o jsonpath='{.spec.replicas}')
	step "The app fails in jpn (no replicas left): once what unbound holds expires, its answer leaves ${lb[jpn]}"
	run kubectl --context jpn scale deployment/hello --replicas 0
	resolve -wait 30s -without "${lb[jpn]}" "$app"

	step "jpn recovers: it is back in unbound's answer"
	run kubectl --context jpn scale deployment/hello --replicas "$replicas"
	resolve -wait 30s -with "${lb[jpn]}" "$app"
}
delegation

pidfiles=("$pidfile" "$geo_pidfile")
for f in "$deleg"/*.pid; do
	if [ -f "$f" ]; then pidfiles+=("$f"); fi
done
if [ -f "$deleg/unbound.pid" ]; then
	step "Done. The lab, coredns-fed and unbound are still running."
else
	step "Done. The lab and coredns-fed are still running."
fi
echo "  export KUBECONFIG=$LAB_DIR/kubeconfig"
echo "  $dnsq -s 127.0.0.1:$DNS_PORT $app"
echo "  kfed-lab status --dir $LAB_DIR        # programs and memory"
echo "  kfed-lab lb down ${lb[jpn]} --dir $LAB_DIR   # break jpn's load balancer"
echo "  kfed-lab apiserver stop eur --dir $LAB_DIR  # break a cluster's control plane"
echo "  $dnsq -s 127.0.0.1:$GEO_DNS_PORT -ecs 192.0.2.0/24 $app   # as a client in Tokyo"
if [ -f "$deleg/unbound.pid" ]; then
	echo "  $dnsq -s 127.0.0.1:$RESOLVER_DNS_PORT $app   # through unbound and the delegation"
fi
echo "Stop the demo's servers with: kill \$(cat ${pidfiles[*]})"
if [ "$LAB_DIR" = "$root/.lab" ]; then
	echo "Stop them and the lab with:   make lab-down"
else
	echo "Stop them and the lab with:   make lab-down LAB_DIR=$LAB_DIR"
fi
