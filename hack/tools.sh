#!/usr/bin/env bash
# Builds the local mesh's binaries (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# istiod, kwok, prometheus, and kubectl where the machine has none) from the Go module proxy, once per
# version, into a cache outside the checkout so fresh clones reuse them. Prints the directory
# that holds them.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${KUBECTL_EGRESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-egress}
K8S_VERSION=v1.34.4
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
# Prometheus 3.x, by its Go module's version. Debian's prometheus 2.42 is built without Kubernetes
# service discovery, which the Prometheus-mode test scrapes the mesh with: build it with that
# discovery only (Prometheus's own remove_all_sd/enable_*_sd tags).
PROMETHEUS_VERSION=v0.316.0
ISTIO_VERSION=$(sed -n 's#^\tistio.io/istio \(v[^ ]*\)$#\1#p' "$root/e2e/tools/istiod/go.mod")
# A binary's key hashes its wrapper module's go.mod and its own main.go, so a changed pin rebuilds.
key() { cat "$root/e2e/tools/${1%%/*}/go.mod" "$root/e2e/tools/$1/main.go" | sha256sum | cut -c1-10; }
bin="$cache/bin"
mkdir -p "$bin"

build() { # name version module-dir package
  local out="$bin/$1-$2"
  if [[ -x $out ]]; then return; fi
  echo "building $1 $2 (once; cached in $bin)" >&2
  local start=$SECONDS
  (cd "$3" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w ${5:-}" -o "$out.tmp" "$4")
  mv "$out.tmp" "$out"
  echo "built $1 in $((SECONDS - start))s" >&2
}

kver="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34"
build etcd "$ETCD_VERSION-$(key etcd)" "$root/e2e/tools/etcd" .
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  build "$c" "$K8S_VERSION-$(key "controlplane/$c")" "$root/e2e/tools/controlplane" "./$c" "$kver"
done
# kubectl comes with the machine; build Kubernetes' own only where there is none.
if ! command -v kubectl >/dev/null; then
  build kubectl "$K8S_VERSION-$(key controlplane/kubectl)" "$root/e2e/tools/controlplane" ./kubectl "$kver"
  ln -sf "kubectl-$K8S_VERSION-$(key controlplane/kubectl)" "$bin/kubectl"
fi
build istiod "${ISTIO_VERSION##*-}-$(key istiod)" "$root/e2e/tools/istiod" .
if [[ ! -x $bin/kwok-$KWOK_VERSION ]]; then
  echo "building kwok $KWOK_VERSION (once)" >&2
  tmp=$(mktemp -d)
  GOBIN=$tmp CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mv "$tmp/kwok" "$bin/kwok-$KWOK_VERSION"
  rmdir "$tmp"
fi

if [[ ! -x $bin/prometheus-$PROMETHEUS_VERSION ]]; then
  echo "building prometheus $PROMETHEUS_VERSION (once)" >&2
  tmp=$(mktemp -d)
  GOBIN=$tmp CGO_ENABLED=0 go install -trimpath -ldflags "-s -w" -tags remove_all_sd,enable_kubernetes_sd \
    "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_VERSION"
  mv "$tmp/prometheus" "$bin/prometheus-$PROMETHEUS_VERSION"
  rmdir "$tmp"
fi

# Stable names for the local mesh.
ln -sf "etcd-$ETCD_VERSION-$(key etcd)" "$bin/etcd"
for c in kube-apiserver kube-controller-manager kube-scheduler; do ln -sf "$c-$K8S_VERSION-$(key "controlplane/$c")" "$bin/$c"; done
ln -sf "istiod-${ISTIO_VERSION##*-}-$(key istiod)" "$bin/istiod"
ln -sf "kwok-$KWOK_VERSION" "$bin/kwok"
ln -sf "prometheus-$PROMETHEUS_VERSION" "$bin/prometheus"
echo "$bin"
