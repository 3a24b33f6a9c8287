#!/usr/bin/env bash
# Builds the release archives of kubectl-egress, their checksums and the krew manifest.
#
#   hack/release.sh VERSION          (make release VERSION=v1.2.3)
#
# Environment:
#   DIST        output directory (default: dist)
#   PLATFORMS   space-separated OS/ARCH list (default: every supported one); with a subset the
#               krew manifest lists only those platforms
#   SOURCE_DATE_EPOCH  build date and archive mtimes (default: the commit's time), so that two
#               runs on the same commit give the same bytes
#
# Output in $DIST: kubectl-egress_VERSION_OS_ARCH.tar.gz (.zip for Windows) holding the binary
# and LICENSE, checksums.txt (sha256) and krew/egress.yaml.
set -euo pipefail

usage() { echo "usage: $0 VERSION (a semantic version with a leading v, e.g. v1.2.3)" >&2; exit 2; }
[[ $# -eq 1 ]] || usage
VERSION=$1
[[ $VERSION =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$ ]] || usage

ALL_PLATFORMS="linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64"
PLATFORMS=${PLATFORMS:-$ALL_PLATFORMS}
DIST=${DIST:-dist}
mkdir -p "$DIST"
DIST=$(cd "$DIST" && pwd)
GO=${GO:-go}

cd "$(dirname "$0")/.."
PKG=github.com/kubectl-egress/kubectl-egress
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
DATE=$(date -u -d "@$EPOCH" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -r "$EPOCH" +%Y-%m-%dT%H:%M:%SZ)
if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
	echo "warning: the work tree has uncommitted changes; the build is not the commit $COMMIT" >&2
fi
LDFLAGS="-s -w -X $PKG/internal/version.Version=$VERSION -X $PKG/internal/version.Commit=$COMMIT -X $PKG/internal/version.Date=$DATE"

BUILDS=$(mktemp -d)
trap 'rm -rf "$BUILDS"' EXIT
rm -f "$DIST"/kubectl-egress_*.tar.gz "$DIST"/kubectl-egress_*.zip "$DIST"/checksums.txt "$DIST"/krew/egress.yaml

for platform in $PLATFORMS; do
	os=${platform%/*} arch=${platform#*/}
	bin=kubectl-egress
	[[ $os == windows ]] && bin=kubectl-egress.exe
	echo "building $VERSION for $os/$arch" >&2
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch "$GO" build -trimpath -buildvcs=false -ldflags "$LDFLAGS" \
		-o "$BUILDS/${os}_${arch}/$bin" ./cmd/kubectl-egress
done

complete=false
[[ $PLATFORMS == "$ALL_PLATFORMS" ]] && complete=true
"$GO" run ./hack/archive -version "$VERSION" -builds "$BUILDS" -dist "$DIST" -targets "$PLATFORMS" \
	-mtime "$EPOCH" -complete="$complete"
echo "wrote $(wc -l < "$DIST/checksums.txt") archives, checksums.txt and krew/egress.yaml to $DIST" >&2
