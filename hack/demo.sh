#!/usr/bin/env bash
# make demo: the plugin's main job on the local mesh (brought up by `make mesh`).
set -euo pipefail
dir=${1:-.localmesh}
export KUBECONFIG=$dir/kubeconfig
export PATH=$(cd "$(dirname "$0")/.." && pwd)/bin:$PATH

echo "# kubectl get pods -A -o wide   (the demo workloads, Running on the kwok node)"
kubectl get pods -A -o wide | awk 'NR==1 || /demo-|egressgateway/'
echo
echo "# kubectl egress inspect -A"
kubectl egress inspect -A
