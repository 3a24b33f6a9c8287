package inspect

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// statsTexts are the Prometheus texts the repository holds: the stats captures of fixtures/ in
// that form, the blog's label sets, and the literal ones of the tests.
func statsTexts(t *testing.T) map[string][]byte {
	t.Helper()
	texts := map[string][]byte{
		"blog exposition":      []byte(blogExposition(t)),
		"syntheticStats":       syntheticStats(300),
		"syntheticEnvoyStats":  syntheticEnvoyStats(50),
		"e2eStats":             []byte(e2eStats),
		"statsSeedPrometheus":  []byte(statsSeedPrometheus),
		"prometheus.io sample": []byte(specExample),
	}
	paths, err := filepath.Glob(filepath.Join("..", "fixtures", "*", "stats-*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if DetectKind(b) == KindPrometheusStats {
			texts[path] = b
		}
	}
	if len(texts) < 10 {
		t.Fatalf("only %d Prometheus texts found", len(texts))
	}
	return texts
}

// specExample is the text format example of prometheus.io's "Exposition formats" page, where the
// UTF-8 line is given a value (the page's has none).
const specExample = `# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9

# UTF-8 metric and label names:
{"my.dotted.metric", "error.message"="Not Found"} 1

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# A histogram, which has a pretty complex representation in the text format:
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="0.2"} 100392
http_request_duration_seconds_bucket{le="0.5"} 129389
http_request_duration_seconds_bucket{le="1"} 133988
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# Finally a summary, which has a complex representation, too:
# HELP rpc_duration_seconds A summary of the RPC duration in seconds.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds{quantile="0.05"} 3272
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds{quantile="0.9"} 9001
rpc_duration_seconds{quantile="0.99"} 76656
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
`

// TestPromTextMatchesExpfmt reads every Prometheus text of the repository and generated ones
// as expfmt does, and the same with Windows line endings and trailing blanks, which expfmt rejects.
func TestPromTextMatchesExpfmt(t *testing.T) {
	texts := statsTexts(t)
	r := rand.New(rand.NewPCG(13, 1))
	for i := range 300 {
		texts[fmt.Sprintf("generated %d", i)] = genExposition(r)
	}
	for name, b := range texts {
		want, err := expfmtStats(b)
		if err != nil {
			t.Errorf("%s: expfmt: %v", name, err)
			continue
		}
		if want.Samples == 0 {
			t.Errorf("%s: no sample", name)
		}
		variants := map[string][]byte{
			"":                   b,
			" (CRLF)":            bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")),
			" (trailing blanks)": bytes.ReplaceAll(b, []byte("\n"), []byte(" \t \n")),
		}
		for variant, text := range variants {
			if diff := diffStats(want, promTextStats(text)); diff != "" {
				t.Errorf("%s%s: stats mismatch (-expfmt +got):\n%s", name, variant, diff)
			}
		}
		checkLinesAlone(t, b)
	}
}

// TestPromTextMutated damages generated texts a few bytes at a time (FuzzStats' checks, on
// texts near the valid ones): each line is read as expfmt reads it alone, and a whole text that
// expfmt accepts as expfmt reads it.
func TestPromTextMutated(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 2))
	alphabet := []byte("{}\",=\\ \t\n\r#_:le0123456789.+-aAnNIfpP\xff\xc3\xa9")
	for range 300 {
		b := genExposition(r)
		for range 1 + r.IntN(6) {
			i := r.IntN(len(b))
			switch c := alphabet[r.IntN(len(alphabet))]; r.IntN(3) {
			case 0:
				b = slices.Insert(b, i, c)
			case 1:
				b = slices.Delete(b, i, i+1)
			default:
				b[i] = c
			}
		}
		checkLinesAlone(t, b)
		if want, err := expfmtStats(b); err == nil && !bracedLine(b) {
			if diff := diffStats(want, promTextStats(b)); diff != "" {
				t.Errorf("%q: stats mismatch (-expfmt +got):\n%s", b, diff)
			}
		}
	}
}

// TestPromTextFormat reads the text format's forms; the expectations are written from the texts.
func TestPromTextFormat(t *testing.T) {
	passthrough := func(c Counts) map[string]Counts { return map[string]Counts{clusterPassthrough: c} }
	tests := []struct {
		name string
		in   string
		want Stats
	}{{
		name: "escapes, and delimiters in label values",
		in: `istio_requests_total{destination_service="a\\b\"c\nd",x="1,2}3=4 5",y=""} 7` + "\n" +
			`istio_requests_total{destination_service="ünïcode.example"} 1` + "\n",
		want: Stats{Samples: 2, Istio: []MetricSample{
			{Name: metricRequests, Labels: map[string]string{"destination_service": "a\\b\"c\nd", "x": "1,2}3=4 5", "y": ""}, Value: 7},
			{Name: metricRequests, Labels: map[string]string{"destination_service": "ünïcode.example"}, Value: 1},
		}},
	}, {
		name: "blanks and tabs between tokens, a trailing comma, timestamps",
		in: "\t istio_tcp_sent_bytes_total {\treporter = \"source\" ,\tx=\"y\" , }\t 12 \t 1395066363000 \n" +
			"istio_tcp_received_bytes_total{} 3 -3982045\n" +
			"istio_tcp_connections_opened_total 4\n",
		want: Stats{Samples: 3, Istio: []MetricSample{
			{Name: metricTCPSent, Labels: map[string]string{"reporter": "source", "x": "y"}, Value: 12},
			{Name: metricTCPReceived, Labels: map[string]string{}, Value: 3},
			{Name: metricTCPOpened, Labels: map[string]string{}, Value: 4},
		}},
	}, {
		name: "special values",
		in: `istio_requests_total{v="nan"} NaN` + "\n" + `istio_requests_total{v="inf"} +Inf` + "\n" +
			`istio_requests_total{v="-inf"} -Inf 1` + "\n" + `istio_requests_total{v="exp"} 1.5e3` + "\n" +
			`envoy_cluster_upstream_cx_rx_bytes_total{cluster_name="PassthroughCluster"} 2e3` + "\n",
		want: Stats{Samples: 5, Clusters: passthrough(Counts{BytesReceived: 2000}), Istio: []MetricSample{
			{Name: metricRequests, Labels: map[string]string{"v": "nan"}, Value: math.NaN()},
			{Name: metricRequests, Labels: map[string]string{"v": "inf"}, Value: math.Inf(1)},
			{Name: metricRequests, Labels: map[string]string{"v": "-inf"}, Value: math.Inf(-1)},
			{Name: metricRequests, Labels: map[string]string{"v": "exp"}, Value: 1500},
		}},
	}, {
		name: "Windows line endings",
		in:   "# TYPE envoy_cluster_upstream_rq_total counter\r\nenvoy_cluster_upstream_rq_total{cluster_name=\"PassthroughCluster\"} 5\r\n",
		want: Stats{Samples: 1, Clusters: passthrough(Counts{Requests: 5})},
	}, {
		name: "no line feed at the end",
		in:   `envoy_cluster_upstream_cx_total{cluster_name="PassthroughCluster"} 6`,
		want: Stats{Samples: 1, Clusters: passthrough(Counts{Connections: 6})},
	}, {
		name: "a histogram or summary series is one sample; without TYPE, each line is one",
		in: `# TYPE envoy_cluster_upstream_cx_length_ms histogram
envoy_cluster_upstream_cx_length_ms_bucket{cluster_name="a",le="0.5"} 1
envoy_cluster_upstream_cx_length_ms_bucket{le="+Inf",cluster_name="a"} 2
envoy_cluster_upstream_cx_length_ms_sum{cluster_name="a"} 3
envoy_cluster_upstream_cx_length_ms_count{cluster_name="a"} 2
envoy_cluster_upstream_cx_length_ms_bucket{cluster_name="b",le="+Inf"} 0
envoy_cluster_upstream_cx_length_ms_count{cluster_name="b"} 0
# TYPE rpc_seconds summary
rpc_seconds{quantile="0.5"} 1
rpc_seconds{quantile="0.9"} 2
rpc_seconds_sum 3
rpc_seconds_count 2
untyped_bucket{le="1"} 1
untyped_bucket{le="+Inf"} 1
untyped_count 1
`,
		want: Stats{Samples: 6},
	}, {
		name: "an Istio metric typed histogram: one sample a series, without le, of no value",
		in: `# TYPE istio_requests_total histogram
istio_requests_total_bucket{destination_service="a.example",le="1"} 1
istio_requests_total_bucket{destination_service="a.example",le="+Inf"} 1
istio_requests_total_count{destination_service="a.example"} 1
`,
		want: Stats{Samples: 1, Istio: []MetricSample{
			{Name: metricRequests, Labels: map[string]string{"destination_service": "a.example"}},
		}},
	}, {
		name: "UTF-8 names: quoted, in braces",
		in: "# TYPE istio_requests_total counter\n" +
			`{"istio_requests_total", "destination_service"="x.example", "my.label"="v"} 5` + "\n" +
			`{"my.dotted.metric"} 1` + "\n",
		want: Stats{Samples: 2, Istio: []MetricSample{
			{Name: metricRequests, Labels: map[string]string{"destination_service": "x.example", "my.label": "v"}, Value: 5},
		}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want.Clusters == nil {
				tt.want.Clusters = map[string]Counts{}
			}
			got, err := ParseStats([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := diffStats(tt.want, got); diff != "" {
				t.Errorf("stats mismatch (-want +got):\n%s", diff)
			}
			checkLinesAlone(t, []byte(tt.in))
		})
	}
}

// TestPromTextSkipsBadLines: expfmt rejects the whole text for one bad line; parsePromText
// counts it and reads the others.
func TestPromTextSkipsBadLines(t *testing.T) {
	in := `# TYPE istio_requests_total counter
istio_requests_total{destination_service="a.example"} 1
istio_requests_total{destination_service="b.example} 2
istio_requests_total{destination_service="c\q.example"} 3
istio_requests_total{destination_service="d",destination_service="e"} 4
istio_requests_total{destination_service="f"}
istio_requests_total{destination_service="g"} 5 later
istio_requests_total{destination_service="h"} 6 1 2
{destination_service="i"} 7
# TYPE istio_requests_total gauge
# HELP istio_requests_total a\qb
istio_requests_total{destination_service="j.example"} 8
envoy_cluster_upstream_cx_total{cluster_name="PassthroughCluster"} 0x10
envoy_cluster_upstream_cx_total{cluster_name="PassthroughCluster"} 9
`
	if _, err := expfmtStats([]byte(in)); err == nil {
		t.Fatal("expfmt accepts the text")
	}
	want := Stats{
		Istio: []MetricSample{
			{Name: metricRequests, Labels: map[string]string{"destination_service": "a.example"}, Value: 1},
			{Name: metricRequests, Labels: map[string]string{"destination_service": "j.example"}, Value: 8},
		},
		Clusters:     map[string]Counts{clusterPassthrough: {Connections: 9}},
		Samples:      3,
		SkippedLines: 10,
	}
	got, err := ParseStats([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if diff := diffStats(want, got); diff != "" {
		t.Errorf("stats mismatch (-want +got):\n%s", diff)
	}
	checkLinesAlone(t, []byte(in))
}

// TestPromTextLongLine: a line longer than a line scanner's buffer is one bad line; before, the
// lines after it were lost.
func TestPromTextLongLine(t *testing.T) {
	in := "# TYPE envoy_cluster_upstream_cx_total counter\n" +
		`envoy_cluster_upstream_cx_total{cluster_name="PassthroughCluster"} 1` + "\n" +
		strings.Repeat("x", 2*maxLineBytes) + "\n" +
		`envoy_cluster_upstream_rq_total{cluster_name="PassthroughCluster"} 2` + "\n"
	got, err := ParseStats([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{Clusters: map[string]Counts{clusterPassthrough: {Connections: 1, Requests: 2}}, Samples: 2, SkippedLines: 1}
	if diff := diffStats(want, got); diff != "" {
		t.Errorf("stats mismatch (-want +got):\n%s", diff)
	}
}

// TestPromTextManyLabels: the labels of a line are checked for repeats in n log n (expfmt takes
// the square of their number).
func TestPromTextManyLabels(t *testing.T) {
	var labels strings.Builder
	for i := range 50_000 {
		fmt.Fprintf(&labels, `l%d="v",`, i)
	}
	in := "envoy_cluster_upstream_cx_active{" + labels.String() + "} 1\n" +
		metricRequests + "{" + labels.String() + "} 2\n" +
		"envoy_cluster_upstream_cx_active{" + labels.String() + `l7="again"} 3` + "\n" +
		metricRequests + "{" + labels.String() + `l49999="again"} 4` + "\n"
	got, err := ParseStats([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got.Samples != 2 || got.SkippedLines != 2 || len(got.Istio) != 1 || len(got.Istio[0].Labels) != 50_000 {
		t.Errorf("%d samples, %d skipped lines, Istio samples %d", got.Samples, got.SkippedLines, len(got.Istio))
	}
}

// genExposition writes a random text that expfmt accepts: Istio's metrics and Envoy's cluster
// counters among other families, histograms and summaries, HELP and TYPE lines, label values
// with escapes and the format's delimiters, quoted names, blanks and tabs between tokens,
// timestamps and the special values.
func genExposition(r *rand.Rand) []byte {
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	blank := func() string { return pick("", "", "", " ", "\t", "  ") }
	var b strings.Builder
	// labels writes a label set, in braces after name when it is given (the UTF-8 form).
	labels := func(name string, pairs []string) {
		pairs = slices.Clone(pairs)
		r.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
		if name != "" {
			pairs = append([]string{`"` + name + `"`}, pairs...)
		}
		b.WriteString("{" + blank())
		for i, p := range pairs {
			if i > 0 {
				b.WriteString(blank() + "," + blank())
			}
			b.WriteString(p)
		}
		if len(pairs) > 0 && r.IntN(4) == 0 {
			b.WriteString(",")
		}
		b.WriteString(blank() + "}")
	}
	value := func() string {
		v := pick("0", "7", "42", "1e3", "-1.5", ".5", "3.", "NaN", "+Inf", "-Inf", "1.7976931348623157e308", "18446744073709551616")
		if r.IntN(5) == 0 {
			v += " " + blank() + pick("1395066363000", "-3982045", "0")
		}
		return v
	}
	labelValue := func() string {
		return `"` + pick("PassthroughCluster", "BlackHoleCluster", "outbound|443||api.example.com", "a,b", "x}y", "k=v", `q\"uote`, `back\\slash`, `new\nline`, "ünï", "", "sp ace", "unknown") + `"`
	}
	istioLabels := func() []string {
		var pairs []string
		for _, name := range []string{"reporter", "destination_service", "destination_service_name", "response_code", `"destination.ip"`} {
			if r.IntN(3) > 0 {
				pairs = append(pairs, name+blank()+"="+blank()+labelValue())
			}
		}
		return pairs
	}
	families := []string{
		metricRequests, metricTCPOpened, metricTCPClosed, metricTCPSent, metricTCPReceived,
		"envoy_cluster_upstream_cx_total", "envoy_cluster_upstream_rq_total", "envoy_cluster_upstream_cx_tx_bytes_total",
		"envoy_cluster_upstream_cx_rx_bytes_total", "envoy_cluster_upstream_cx_active", "envoy_server_uptime",
		"istio_request_duration_milliseconds", "envoy_cluster_upstream_cx_length_ms", "rpc_duration_seconds",
	}
	r.Shuffle(len(families), func(i, j int) { families[i], families[j] = families[j], families[i] })
	for _, name := range families[:1+r.IntN(len(families))] {
		typ := pick("", "counter", "gauge", "untyped", "COUNTER")
		switch name {
		case "istio_request_duration_milliseconds", "envoy_cluster_upstream_cx_length_ms":
			typ = "histogram"
		case "rpc_duration_seconds":
			typ = "summary"
		}
		if r.IntN(2) == 0 {
			fmt.Fprintf(&b, "# HELP %s A \\\\ help\\ntext.\n", name)
		}
		if typ != "" {
			fmt.Fprintf(&b, "#%sTYPE %s %s\n", pick(" ", "\t", ""), name, typ)
		}
		for range 1 + r.IntN(4) {
			pairs := istioLabels()
			if strings.HasPrefix(name, "envoy_cluster_") {
				pairs = []string{"cluster_name=" + labelValue()}
			}
			switch typ {
			case "histogram":
				for _, le := range []string{"0.5", "1", "+Inf"} {
					b.WriteString(name + "_bucket")
					labels("", append(slices.Clone(pairs), `le="`+le+`"`))
					b.WriteString(blank() + " " + pick("0", "3") + "\n")
				}
				for _, suffix := range []string{"_sum", "_count"} {
					b.WriteString(name + suffix)
					labels("", pairs)
					b.WriteString(" 3\n")
				}
			case "summary":
				for _, q := range []string{"0.5", "0.99"} {
					b.WriteString(name)
					labels("", append(slices.Clone(pairs), `quantile="`+q+`"`))
					b.WriteString(" " + value() + "\n")
				}
				b.WriteString(name + "_count 2\n")
			default:
				switch r.IntN(4) {
				case 0:
					b.WriteString(blank() + name + blank() + " " + value() + "\n")
				case 1:
					labels(name, pairs)
					b.WriteString(" " + value() + "\n")
				default:
					b.WriteString(name + blank())
					labels("", pairs)
					b.WriteString(blank() + " " + value() + "\n")
				}
			}
		}
		if r.IntN(3) == 0 {
			b.WriteString(pick("\n", "# a comment\n", "#\n", "  \n"))
		}
	}
	return []byte(b.String())
}
