#!/usr/bin/env bash
# The demo: start the lab (if it is not up yet), show its clusters and their
# regions, and show a load-balanced service answering in every cluster.
# Run it with `make demo`, which builds everything and sets PATH.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
LAB_DIR=${LAB_DIR:-.lab}
export KUBECONFIG=$LAB_DIR/kubeconfig

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

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

contexts=$(kubectl config get-contexts -o name)
step "The clusters, with their regions and zones"
for ctx in $contexts; do
	echo "--- $ctx ($(kubectl --context "$ctx" version -o json | jq -r .serverVersion.gitVersion 2>/dev/null || echo '?'))"
	kubectl --context "$ctx" get nodes -L topology.kubernetes.io/region,topology.kubernetes.io/zone
done

step "Deploying the sample app behind a LoadBalancer Service in every cluster"
for ctx in $contexts; do
	kubectl --context "$ctx" apply -f "$here/hello.yaml"
done
for ctx in $contexts; do
	kubectl --context "$ctx" rollout status deployment/hello --timeout=120s
done

step "Each cluster's load balancer answering over real HTTP"
for ctx in $contexts; do
	addr=""
	for _ in $(seq 1 100); do
		addr=$(kubectl --context "$ctx" get service hello -o jsonpath='{.status.loadBalancer.ingress[0].ip}')
		[ -n "$addr" ] && break
		sleep 0.2
	done
	[ -n "$addr" ] || { echo "error: no load-balancer address for service hello in $ctx" >&2; exit 1; }
	echo "--- $ctx: http://$addr/"
	for _ in $(seq 1 50); do
		http_get "$addr" 80 2>/dev/null && break
		sleep 0.2
	done
done

step "Done. The lab is still running."
echo "  export KUBECONFIG=$LAB_DIR/kubeconfig"
echo "  kfed-lab status --dir $LAB_DIR        # programs and memory"
echo "  kfed-lab apiserver stop eur           # break a cluster"
echo "Stop it with: make lab-down"
