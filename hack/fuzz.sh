#!/usr/bin/env bash
# Runs every fuzz target (func Fuzz* in *_fuzz_test.go) of the packages given, one after the
# other, FUZZTIME each, with one worker, and prints one line per target: its exec count and
# whether it crashed. A crash leaves its input in PKG/testdata/fuzz/TARGET/, which plain
# `go test` then runs as a regression test: fix the parser, keep the file.
#
#   hack/fuzz.sh [PKG...]        FUZZTIME=10m (make fuzz), FUZZTIME=4s FUZZ_JOBS=2 (make test)
#
# The generated corpus is kept in Go's fuzz cache, so each long run starts where the last one
# stopped; FUZZ_SEEDS_ONLY=1 (the short run) starts from the seeds alone, so replaying a grown
# corpus does not eat its seconds.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
FUZZTIME=${FUZZTIME:-10m}
FUZZ_JOBS=${FUZZ_JOBS:-1}
# New-coverage inputs are minimized before fuzzing goes on; bound it, or a short run is spent
# minimizing (each new-coverage input is, and early in a run most are).
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-200x}
pkgs=("$@")
if [[ ${#pkgs[@]} -eq 0 ]]; then
  mapfile -t pkgs < <(find . -name '*_fuzz_test.go' -not -path './.*' -printf '%h\n' | sort -u)
fi
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
failed=0
for pkg in "${pkgs[@]}"; do
  # One instrumented test binary per package, built once for all its targets.
  go test -c -fuzz=. -o "$bin/fuzz.test" "$pkg"
  cache="$(go env GOCACHE)/fuzz/$(go list "$pkg")"
  if [[ -n ${FUZZ_SEEDS_ONLY:-} ]]; then cache="$bin/corpus"; fi
  mapfile -t targets < <(cd "$pkg" && "$bin/fuzz.test" -test.list '^Fuzz')
  # FUZZ_JOBS targets at a time, each on one core (make test runs two on two cores).
  for ((i = 0; i < ${#targets[@]}; i += FUZZ_JOBS)); do
    batch=("${targets[@]:i:FUZZ_JOBS}")
    for t in "${batch[@]}"; do
      (
        start=$SECONDS
        # GOMAXPROCS=1 and one worker: the run takes one core, however many the machine has.
        if (cd "$pkg" && GOMAXPROCS=1 "$bin/fuzz.test" -test.run='^$' -test.fuzz="^$t\$" -test.fuzztime="$FUZZTIME" \
          -test.fuzzminimizetime="$FUZZMINIMIZETIME" -test.parallel=1 -test.fuzzcachedir="$cache") >"$bin/$t.log" 2>&1; then
          echo "no crash" >"$bin/$t.result"
        else
          echo "CRASH: $(grep -m1 -o 'testdata/fuzz/[^ ]*' "$bin/$t.log" || tail -1 "$bin/$t.log")" >"$bin/$t.result"
        fi
        echo $((SECONDS - start)) >"$bin/$t.seconds"
      ) &
    done
    wait
    for t in "${batch[@]}"; do
      log="$bin/$t.log"
      result=$(cat "$bin/$t.result")
      [[ $result == "no crash" ]] || failed=1
      execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
      printf '%-16s %-18s %5ds %12s execs  %s\n' "$pkg" "$t" "$(cat "$bin/$t.seconds")" "${execs:-0}" "$result"
      if [[ $result != "no crash" ]]; then grep -v '^fuzz: elapsed' "$log" | head -30 >&2; fi
    done
  done
done
exit $failed
