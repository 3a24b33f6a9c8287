#!/usr/bin/env bash
# make bench: every figure of BENCHMARKS.md, measured on this machine in one run, and the file
# rewritten from them. Each local mesh is its own, on loopback, started with --replay 0 (the
# stand-ins call once) so their traffic does not load the machine while it is measured:
#   1. the parsers (go test -bench, one core, RUNS counts);
#   2. FLEET=500: one pod, `inspect POD -o json` against `istioctl proxy-config cluster POD` +
#      `istioctl proxy-config endpoint POD`, interleaved, RUNS times, and where its time goes
#      (hack/podphases); `inspect -n demo-fleet` wall time and peak RSS (/usr/bin/time) at
#      several --concurrency values, with a CPU profile of the chosen one;
#   3. FLEET=2000: `inspect -n demo-fleet`;
#   4. 5,000 ServiceEntries: bytes read per pod (pods[].bytesRead) against the pod's whole
#      /config_dump?include_eds, and the one-pod timing again.
# istioctl is built by hack/istioctl.sh into the tool cache, never into the checkout.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
RUNS=${RUNS:-5}
FLEETS=${FLEETS:-"500 2000"}
SERVICE_ENTRIES=${SERVICE_ENTRIES:-5000}
CONCURRENCIES=${CONCURRENCIES:-"8 16 32"}
out=${BENCH_OUT:-BENCHMARKS.md}
tools=$(hack/tools.sh)
istioctl=$(hack/istioctl.sh)
egress=$root/bin/kubectl-egress
work=$(mktemp -d)
mesh=$work/mesh
notes=$work/notes.md
trap 'bin/localmesh down --dir "$mesh" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
go build -o "$work/podphases" ./hack/podphases

load() { cut -d' ' -f1-3 /proc/loadavg; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "n/a"}'; }
now_ms() { date +%s%3N; }
say() { printf '%s\n' "$*" >>"$notes"; }
up() { # fleet service-entries
  bin/localmesh down --dir "$mesh" >/dev/null 2>&1 || true
  local start=$SECONDS
  bin/localmesh up --dir "$mesh" --tools "$tools" --fleet "$1" --service-entries "$2" --replay 0 >"$work/up.log"
  export KUBECONFIG=$mesh/kubeconfig
  echo "mesh FLEET=$1 SERVICE_ENTRIES=$2 up in $((SECONDS - start)) s" >&2
}
pod_of() { kubectl get pods -n "$1" -l "app=$2" -o jsonpath='{.items[0].metadata.name}'; }

# one_pod NS POD: RUNS interleaved runs of inspect and istioctl's two reads of the same pod.
one_pod() {
  local ns=$1 pod=$2 e i a b c
  : >"$work/egress.ms"; : >"$work/istioctl.ms"; : >"$work/ratio"
  "$egress" inspect "$pod" -n "$ns" -o json >/dev/null # warm the page cache of both binaries
  "$istioctl" proxy-config cluster "$pod" -n "$ns" >/dev/null
  for i in $(seq "$RUNS"); do
    a=$(now_ms); "$egress" inspect "$pod" -n "$ns" -o json >/dev/null
    b=$(now_ms); "$istioctl" proxy-config cluster "$pod" -n "$ns" >/dev/null
    "$istioctl" proxy-config endpoint "$pod" -n "$ns" >/dev/null
    c=$(now_ms)
    echo $((b - a)) >>"$work/egress.ms"; echo $((c - b)) >>"$work/istioctl.ms"
    awk -v e=$((b - a)) -v i=$((c - b)) 'BEGIN {printf "%.2f\n", e / i}' >>"$work/ratio"
  done
  e=$(median <"$work/egress.ms")
  say "| \`inspect $pod -o json\` | $e ms | \`istioctl proxy-config cluster\` + \`endpoint\` | $(median <"$work/istioctl.ms") ms | **$(median <"$work/ratio")×** | $(load) |"
}

# fleet N: inspect -n demo-fleet at each concurrency, RUNS times (wall s, peak RSS MiB).
# busy: CPU seconds every process of the machine has used (user, nice, system, irq, softirq).
busy() { awk -v hz="$(getconf CLK_TCK)" '/^cpu / {printf "%.2f\n", ($2 + $3 + $4 + $7 + $8) / hz}' /proc/stat; }

# fleet N: inspect -n demo-fleet at each concurrency, RUNS times (wall s, peak RSS MiB, the
# client's CPU, and the CPU of the whole machine: the API server, kwok and the stand-ins that
# serve the forwards share the two cores with the client).
fleet() {
  local n=$1 c i b0 b1
  for c in $CONCURRENCIES; do
    : >"$work/wall"; : >"$work/rss"; : >"$work/cpu"; : >"$work/busy"
    for i in $(seq "$RUNS"); do
      b0=$(busy)
      /usr/bin/time -f '%e %M %U %S' -o "$work/time" "$egress" inspect -n demo-fleet -o json --concurrency "$c" >"$work/fleet.json" 2>"$work/fleet.err" || true
      b1=$(busy)
      read -r wall rss user sys <"$work/time"
      echo "$wall" >>"$work/wall"; awk -v k="$rss" 'BEGIN {printf "%.0f\n", k / 1024}' >>"$work/rss"
      awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f\n", u + s}' >>"$work/cpu"
      awk -v a="$b0" -v b="$b1" 'BEGIN {printf "%.1f\n", b - a}' >>"$work/busy"
    done
    local pods failed
    pods=$(jq '.pods | length' "$work/fleet.json"); failed=$(jq '[.pods[] | select(.errors)] | length' "$work/fleet.json")
    say "| $n | $c | $(median <"$work/wall") s | $(median <"$work/rss") MiB | $(median <"$work/cpu") s | $(median <"$work/busy") s | $pods read, $failed failed | $(load) |"
  done
}

say "### Parsers (one core: \`go test -run '^\$' -bench 'Parse|Scan' -benchmem -cpu 1 -count $RUNS ./inspect/\`)"
say ""
say "| benchmark | MB/s (median of $RUNS) | allocs/op | load |"
say "|---|---:|---:|---|"
go test -run '^$' -bench 'BenchmarkParse|BenchmarkScan' -benchmem -cpu 1 -count "$RUNS" ./inspect/ >"$work/parsers.txt"
for b in $(awk '/^Benchmark/ {print $1}' "$work/parsers.txt" | sort -u); do
  mbs=$(awk -v b="$b" '$1 == b {for (i = 1; i < NF; i++) if ($(i+1) == "MB/s") print $i}' "$work/parsers.txt" | median)
  allocs=$(awk -v b="$b" '$1 == b {for (i = 1; i < NF; i++) if ($(i+1) == "allocs/op") print $i}' "$work/parsers.txt" | median)
  say "| $b | $mbs | $allocs | $(load) |"
done
say ""

for n in $FLEETS; do
  up "$n" 0
  if [[ $n == "${FLEETS%% *}" ]]; then
    pod=$(pod_of demo-passthrough shop)
    say "### One pod (FLEET=$n mesh, medians of $RUNS interleaved runs)"
    say ""
    say "| kubectl-egress | median | istioctl | median | ratio | load |"
    say "|---|---:|---|---:|---:|---|"
    one_pod demo-passthrough "$pod"
    say ""
    say "Where one read's time goes (\`hack/podphases\`, each step alone, in sequence; inspect overlaps the reads and the log):"
    say ""
    say '```'
    "$work/podphases" demo-passthrough "$pod" >>"$notes"
    say '```'
    say ""
    say "### Fleet (\`inspect -n demo-fleet -o json --concurrency C\`, medians of $RUNS runs)"
    say ""
    say "| FLEET | concurrency | wall | peak RSS | client CPU (user+sys) | machine CPU (all processes) | pods | load |"
    say "|---:|---:|---:|---:|---:|---:|---|---|"
    fleet "$n"
    "$work/podphases" -cpuprofile "$work/fleet.pprof" demo-fleet >"$work/profile.txt"
    go tool pprof -top -nodecount 25 "$work/podphases" "$work/fleet.pprof" >>"$work/profile.txt" 2>/dev/null
    profile_cum=$(go tool pprof -top -cum -nodecount 30 "$work/podphases" "$work/fleet.pprof" 2>/dev/null | tail -n +6)
  else
    CONCURRENCIES=${CONCURRENCIES##* } fleet "$n"
  fi
done
say ""
say "CPU profile of the client during a FLEET=${FLEETS%% *} read (\`hack/podphases -cpuprofile\`, inspect's reader, default concurrency), top and cumulative:"
say ""
say '```'
cat "$work/profile.txt" >>"$notes"
say ""
printf '%s\n' "$profile_cum" >>"$notes"
say '```'
say ""

up 0 "$SERVICE_ENTRIES"
pod=$(pod_of demo-passthrough shop)
addr=$(kubectl get pod -n demo-passthrough "$pod" -o jsonpath='{.metadata.annotations.localmesh\.kubectl-egress\.dev/scrape-address}')
# istiod pushes the entries to every proxy: wait until this one has them all.
for _ in $(seq 120); do
  have=$(curl -s "http://$addr/config_dump?resource=dynamic_active_clusters&mask=cluster.name" | grep -c '"name": *"outbound|[0-9]*||api[0-9]*\.saas\.example"' || true)
  [[ $have -ge $SERVICE_ENTRIES ]] && break
  sleep 2
done
full=$(curl -s "http://$addr/config_dump?include_eds" | wc -c)
say "### Bytes read per pod ($SERVICE_ENTRIES ServiceEntries; $have external clusters in the pod's config)"
say ""
say "| pod | --config-scope | read as | whole /config_dump?include_eds | bytesRead (admin reads + access log) | share | destinations |"
say "|---|---|---|---:|---:|---:|---:|"
for scope in auto all; do
  "$egress" inspect "$pod" -n demo-passthrough -o json --config-scope "$scope" >"$work/scale.json"
  read_bytes=$(jq '.pods[0].bytesRead' "$work/scale.json")
  say "| $pod | $scope | $(jq -r '.pods[0].configRead // "whole"' "$work/scale.json") | $full B | $read_bytes B | **$(awk -v r="$read_bytes" -v f="$full" 'BEGIN {printf "%.2f%%", 100 * r / f}')** | $(jq '.destinations | length' "$work/scale.json") |"
done
say ""
say "Each admin read of a whole read of that pod (\`hack/podphases\`; a traffic read makes the four small first reads, then the clusters by name):"
say ""
say '```'
"$work/podphases" demo-passthrough "$pod" >>"$notes"
say '```'
say ""
say "### One pod with $SERVICE_ENTRIES ServiceEntries"
say ""
say "| kubectl-egress | median | istioctl | median | ratio | load |"
say "|---|---:|---|---:|---:|---|"
one_pod demo-passthrough "$pod"
bin/localmesh down --dir "$mesh" >/dev/null

{
  sed -n '1,/^<!-- bench -->$/p' "$out"
  echo ""
  echo "Measured by \`make bench\` on $(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(go version | cut -d' ' -f3); load is the 1/5/15-minute load average when the row was taken."
  echo ""
  cat "$notes"
} >"$work/out.md"
mv "$work/out.md" "$out"
echo "wrote $out" >&2
