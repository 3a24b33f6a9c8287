package sidecar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

type statKind int

const (
	counterStat statKind = iota
	gaugeStat
	textReadout
)

type tag struct{ name, value string }

// stat is one Envoy stat: its full name as /stats prints it and its tag-extracted form as
// /stats/prometheus prints it.
type stat struct {
	raw   string
	prom  string // Prometheus metric name
	tags  []tag
	kind  statKind
	value uint64
	text  string
	used  bool
}

// statStore holds a proxy's stats. Only stats the bootstrap stats_matcher accepts are
// created: the rest do not exist for the admin API, as in Envoy.
type statStore struct {
	mu    sync.Mutex
	stats map[string]*stat
}

func newStatStore() *statStore { return &statStore{stats: map[string]*stat{}} }

func (s *statStore) get(raw, prom string, tags []tag, kind statKind) *stat {
	st, ok := s.stats[raw]
	if !ok {
		st = &stat{raw: raw, prom: prom, tags: tags, kind: kind}
		s.stats[raw] = st
	}
	return st
}

func (s *statStore) add(raw, prom string, tags []tag, n uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.get(raw, prom, tags, counterStat)
	st.value += n
	st.used = true
}

// define creates a stat with value 0 if it does not exist (Envoy creates a cluster's stats
// with the cluster).
func (s *statStore) define(raw, prom string, tags []tag, kind statKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.get(raw, prom, tags, kind)
}

func (s *statStore) setGauge(raw, prom string, tags []tag, v uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.get(raw, prom, tags, gaugeStat)
	st.value = v
	st.used = true
}

func (s *statStore) setText(raw, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.get(raw, "", nil, textReadout)
	st.text = v
	st.used = true
}

// statsQuery is /stats's filter= and usedonly.
type statsQuery struct {
	filter   *regexp.Regexp
	usedOnly bool
}

func (s *statStore) selected(q statsQuery) []*stat {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*stat, 0, len(s.stats))
	for _, st := range s.stats {
		if q.usedOnly && !st.used {
			continue
		}
		if q.filter != nil && !q.filter.MatchString(st.raw) {
			continue
		}
		cp := *st
		out = append(out, &cp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].raw < out[j].raw })
	return out
}

// text renders /stats: "name: value", text readouts quoted.
func renderStatsText(stats []*stat) []byte {
	var b bytes.Buffer
	for _, st := range stats {
		if st.kind == textReadout {
			fmt.Fprintf(&b, "%s: %q\n", st.raw, st.text)
		} else {
			fmt.Fprintf(&b, "%s: %d\n", st.raw, st.value)
		}
	}
	return b.Bytes()
}

// renderStatsJSON renders /stats?format=json.
func renderStatsJSON(stats []*stat) []byte {
	type item struct {
		Name  string `json:"name"`
		Value any    `json:"value"`
	}
	items := make([]item, 0, len(stats))
	for _, st := range stats {
		if st.kind == textReadout {
			items = append(items, item{st.raw, st.text})
		} else {
			items = append(items, item{st.raw, st.value})
		}
	}
	b, _ := json.MarshalIndent(map[string]any{"stats": items}, "", " ")
	return append(b, '\n')
}

// renderPrometheus renders /stats/prometheus: one family per tag-extracted name, counters
// then gauges, each family sorted by name.
func renderPrometheus(stats []*stat) []byte {
	type family struct {
		kind  statKind
		lines []string
	}
	fams := map[string]*family{}
	for _, st := range stats {
		if st.kind == textReadout || st.prom == "" {
			continue
		}
		f := fams[st.prom]
		if f == nil {
			f = &family{kind: st.kind}
			fams[st.prom] = f
		}
		var lb strings.Builder
		lb.WriteString(st.prom)
		if len(st.tags) > 0 {
			lb.WriteString("{")
			for i, t := range st.tags {
				if i > 0 {
					lb.WriteString(",")
				}
				lb.WriteString(promName(t.name))
				lb.WriteString(`="`)
				lb.WriteString(promEscape(t.value))
				lb.WriteString(`"`)
			}
			lb.WriteString("}")
		}
		lb.WriteString(" ")
		lb.WriteString(strconv.FormatUint(st.value, 10))
		f.lines = append(f.lines, lb.String())
	}
	var b bytes.Buffer
	for _, kind := range []statKind{counterStat, gaugeStat} {
		names := make([]string, 0, len(fams))
		for n, f := range fams {
			if f.kind == kind {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			typ := "counter"
			if kind == gaugeStat {
				typ = "gauge"
			}
			fmt.Fprintf(&b, "# TYPE %s %s\n", n, typ)
			lines := fams[n].lines
			sort.Strings(lines)
			for _, l := range lines {
				b.WriteString(l)
				b.WriteString("\n")
			}
			b.WriteString("\n")
		}
	}
	return b.Bytes()
}

var promInvalid = regexp.MustCompile(`[^a-zA-Z0-9_]`)

func promName(s string) string { return promInvalid.ReplaceAllString(s, "_") }

func promEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}

// statsMatcher is Istio's bootstrap stats_matcher inclusion list.
type statsMatcher struct{ prefixes, suffixes []string }

func newStatsMatcher(extraPrefixes []string) statsMatcher {
	return statsMatcher{
		prefixes: append([]string{"reporter=", "component", "istio", "cluster_manager", "listener_manager", "server", "cluster.xds-grpc", "wasm"}, extraPrefixes...),
		suffixes: []string{"rbac.allowed", "rbac.denied", "shadow_allowed", "shadow_denied", "downstream_cx_active"},
	}
}

func (m statsMatcher) accepts(raw string) bool {
	for _, p := range m.prefixes {
		if strings.HasPrefix(raw, p) {
			return true
		}
	}
	for _, s := range m.suffixes {
		if strings.HasSuffix(raw, s) {
			return true
		}
	}
	return false
}

// Pre-1.23 Istio named clusters' stats without the ";" delimiter and extracted the
// cluster_name tag with this regex.
var legacyClusterTag = regexp.MustCompile(`^cluster\.((.+?(\..+?\.svc\.cluster\.local)?)\.)`)

var rqCodeTag = regexp.MustCompile(`_rq(_(\d{3}|\dxx))$`)

// clusterStat names a cluster stat: statName is the cluster's alt_stat_name (or name), as
// Envoy uses it, and suffix e.g. "upstream_cx_total".
func clusterStat(statName, suffix string) (raw, prom string, tags []tag) {
	raw = "cluster." + statName + "." + suffix
	var clusterName string
	if n, ok := strings.CutSuffix(statName, ";"); ok {
		clusterName = n
	} else if m := legacyClusterTag.FindStringSubmatch(raw); m != nil {
		clusterName = m[2]
		suffix = strings.TrimPrefix(raw, "cluster."+m[1])
	}
	if m := rqCodeTag.FindStringSubmatch(suffix); m != nil {
		name := "response_code"
		if strings.HasSuffix(m[2], "xx") {
			name = "response_code_class"
		}
		tags = append(tags, tag{name, m[2]})
		suffix = strings.TrimSuffix(suffix, m[1])
	}
	tags = append(tags, tag{"cluster_name", clusterName})
	return raw, "envoy_cluster_" + promName(suffix), tags
}

// istioStat names an Istio standard metric: "istiocustom.NAME.tag1.value1..." in /stats,
// NAME{tag1="value1",...} in Prometheus (the custom namespace is not prefixed with envoy_).
func istioStat(name string, tags []tag) (raw, prom string) {
	var b strings.Builder
	b.WriteString("istiocustom.")
	b.WriteString(name)
	for _, t := range tags {
		b.WriteString(".")
		b.WriteString(t.name)
		b.WriteString(".")
		b.WriteString(t.value)
	}
	return b.String(), name
}

// envoyStat names a plain server-level stat, e.g. "server.live" -> envoy_server_live.
func envoyStat(raw string) (string, string) { return raw, "envoy_" + promName(raw) }
