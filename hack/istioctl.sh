#!/usr/bin/env bash
# Builds Istio's istioctl from the Go module proxy, once per version, into the same cache as
# hack/tools.sh, and prints the binary's path. It is the reference reading of saved config dumps
# (`istioctl proxy-config cluster|endpoint --file DUMP -o json`) for fixtures/real/*.expect.yaml.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache=${KUBECTL_EGRESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-egress}
ISTIO_VERSION=$(sed -n 's#^\tistio.io/istio \(v[^ ]*\)$#\1#p' "$root/e2e/tools/istioctl/go.mod")
# The key hashes the wrapper module's go.mod and main.go, so a changed pin rebuilds.
key=$(cat "$root/e2e/tools/istioctl/go.mod" "$root/e2e/tools/istioctl/main.go" | sha256sum | cut -c1-10)
bin="$cache/bin"
out="$bin/istioctl-${ISTIO_VERSION##*-}-$key"
mkdir -p "$bin"

if [[ ! -x $out ]]; then
  echo "building istioctl ${ISTIO_VERSION##*-} (once; cached in $bin)" >&2
  start=$SECONDS
  (cd "$root/e2e/tools/istioctl" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.tmp" .)
  mv "$out.tmp" "$out"
  echo "built istioctl in $((SECONDS - start))s" >&2
fi
ln -sf "$(basename "$out")" "$bin/istioctl"
echo "$out"
