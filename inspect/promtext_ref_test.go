package inspect

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The reference parsePromText is held to: Prometheus' own text parser (expfmt), as ParseStats
// used it before. expfmt builds every metric of every family, which made ParseStats slow, and
// rejects a whole text for one bad line.

// textToMetricFamilies is expfmt's text parser, made safe: on some malformed input it panics
// (prometheus/common v0.67.5 dereferences a nil metric on a sample "{}" with no metric before it,
// found by FuzzStats).
func textToMetricFamilies(b []byte) (fams map[string]*dto.MetricFamily, err error) {
	defer func() {
		if r := recover(); r != nil {
			fams, err = nil, fmt.Errorf("malformed Prometheus text: %v", r)
		}
	}()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(bytes.NewReader(b))
}

// expfmtStats is what ParseStats read from Prometheus text that expfmt accepts whole.
func expfmtStats(b []byte) (Stats, error) {
	fams, err := textToMetricFamilies(b)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Clusters: map[string]Counts{}}
	for name, fam := range fams {
		st.Samples += len(fam.GetMetric())
		if name == metricActiveClusters {
			for _, m := range fam.GetMetric() {
				st.ActiveClusters = int(sampleValue(m))
			}
			continue
		}
		setCounter, isCluster := clusterCounters[strings.TrimPrefix(name, "envoy_cluster_")]
		isCluster = isCluster && strings.HasPrefix(name, "envoy_cluster_")
		if !istioMetrics[name] && !isCluster {
			continue
		}
		for _, m := range fam.GetMetric() {
			labels := make(map[string]string, len(m.GetLabel()))
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			v := sampleValue(m)
			if isCluster {
				cn := labels["cluster_name"]
				c := st.Clusters[cn]
				setCounter(&c, int64(v))
				st.Clusters[cn] = c
				continue
			}
			st.Istio = append(st.Istio, MetricSample{Name: name, Labels: labels, Value: v})
		}
	}
	return st, nil
}

func sampleValue(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}

// promTextStats is parsePromText's reading of b.
func promTextStats(b []byte) Stats {
	st := Stats{Clusters: map[string]Counts{}}
	st.parsePromText(b)
	return st
}

// diffStats compares two readings, the Istio samples in any order (expfmt's come by family in
// map order).
func diffStats(want, got Stats) string {
	sortSamples(want.Istio)
	sortSamples(got.Istio)
	return cmp.Diff(want, got, cmpopts.EquateEmpty(), cmpopts.EquateNaNs())
}

// checkLinesAlone holds parsePromText to expfmt line by line: a line read alone is skipped when
// expfmt rejects it alone, and gives what expfmt gives otherwise. expfmt gets the line without
// its trailing whitespace, which the format allows and expfmt rejects (CRLF line endings).
func checkLinesAlone(t *testing.T, b []byte) {
	t.Helper()
	for _, line := range bytes.Split(b, []byte("\n")) {
		want, err := expfmtStats([]byte(string(bytes.TrimRight(line, " \t\r")) + "\n"))
		if err != nil {
			want = Stats{SkippedLines: 1}
		}
		if diff := diffStats(want, promTextStats(line)); diff != "" {
			t.Errorf("line %q alone (expfmt: %v), stats mismatch (-expfmt +got):\n%s", line, err, diff)
		}
	}
}

// bracedLine reports whether a line of b starts with '{': a metric name inside the braces, or
// none. expfmt reads such a line against the previous line's family (a label set without a name
// goes to the previous metric; le and quantile are judged by the previous family's type), so
// such texts are compared line by line only.
func bracedLine(b []byte) bool {
	for _, line := range bytes.Split(b, []byte("\n")) {
		if l := bytes.TrimLeft(line, " \t"); len(l) > 0 && l[0] == '{' {
			return true
		}
	}
	return false
}
