// Package inspect is the read side of kubectl-egress: it reads Istio proxies and reports every
// external destination by host and how the proxy treats it. Data flows one way:
//
//	Scope ─ResolveTargets→ Targets ─Fetcher→ Sources ─Parse→ Snapshot ─Classify→ PodReport ─Aggregate→ Report
//
// Reader is the one configured reader that runs the whole chain for a scope (POD, TYPE/NAME, -l,
// -n, -A) with one ReadConfig (admin port, concurrency, size and time caps, access-log window and
// cap); ReadFiles and ReadAdminURL do the same for saved outputs and a reachable admin API.
//
// Where each step lives: targets.go (scope → pods with a sidecar), portforward.go, admin.go and
// fetch.go (the I/O: port-forward, admin reads, the istio-proxy log), files.go and bugreport.go
// (saved outputs and istioctl bug-report archives), prometheus.go (the same report from Istio's
// metrics in Prometheus, --then-forward to the pods it cannot name), parse.go with configdump.go (configdump_v2.go
// upgrades Istio ≤ 1.7 dumps), configview.go, clusters.go, stats.go, accesslog.go (by the formats
// of logformat.go) and serverinfo.go (bytes → values, no I/O),
// classify.go and recommend.go (values → destinations with a disposition and a fix), aggregate.go
// (pods → one report), report.go (the report's types, the contract of -o json), verify.go (the
// verdict on a fix, from reports), and the printers print_report.go and print_verify.go.
//
// inspect never imports remedy, fixflow, plugin or cobra: planning and applying fixes read its
// report, not the other way round.
package inspect
