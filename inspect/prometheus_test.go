package inspect

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/model"
)

// fakePrometheus answers each query with the samples of the metric it names; the gap query
// (group by pod) gets the gap samples.
type fakePrometheus struct {
	samples map[string]model.Vector
	gaps    model.Vector
	queries []string
}

func (f *fakePrometheus) Query(_ context.Context, q string, _ time.Time) (model.Vector, []string, error) {
	f.queries = append(f.queries, q)
	if strings.HasPrefix(q, "group by") {
		if strings.Contains(q, metricTCPOpened+"{") {
			return f.gaps, nil, nil
		}
		return model.Vector{}, nil, nil
	}
	for m, v := range f.samples {
		if strings.Contains(q, "("+m+"{") {
			return v, nil, nil
		}
	}
	return model.Vector{}, nil, nil
}

func sample(v float64, labels ...string) *model.Sample {
	m := model.Metric{}
	for i := 0; i+1 < len(labels); i += 2 {
		m[model.LabelName(labels[i])] = model.LabelValue(labels[i+1])
	}
	return &model.Sample{Metric: m, Value: model.SampleValue(v)}
}

func TestReadPrometheus(t *testing.T) {
	shop := []string{"source_workload", "shop", "source_workload_namespace", "demo"}
	with := func(extra ...string) []string { return append(append([]string{}, shop...), extra...) }
	api := &fakePrometheus{
		samples: map[string]model.Vector{
			metricRequests: {
				sample(4, with("destination_service", "edition.cnn.com", "destination_service_name", "PassthroughCluster", "response_code", "200")...),
				sample(2, with("destination_service", "example.com", "destination_service_name", "BlackHoleCluster", "response_code", "502")...),
				// Seen in the window but not grown: still a destination, counted 0.
				sample(0, with("destination_service", "api.github.com", "destination_service_name", "api.github.com")...),
			},
			metricTCPOpened: {
				sample(3, with("destination_service", "unknown", "destination_service_name", "PassthroughCluster")...),
			},
			// Istio's standard metrics: sent bytes are the response's, received the request's.
			metricTCPSent: {
				sample(5000, with("destination_service", "unknown", "destination_service_name", "PassthroughCluster")...),
			},
			metricTCPReceived: {
				sample(700, with("destination_service", "unknown", "destination_service_name", "PassthroughCluster")...),
			},
		},
		gaps: model.Vector{sample(1, with("pod", "shop-1")...)},
	}
	got, err := ReadPrometheus(context.Background(), api, PrometheusQuery{Namespace: "demo", Since: time.Hour}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range api.queries {
		if !strings.Contains(q, `source_workload_namespace="demo"`) || !strings.Contains(q, "[1h]") {
			t.Errorf("query not scoped to the namespace and window: %s", q)
		}
	}
	r := Aggregate(got.Workloads)
	type dest struct {
		Host        string
		Disposition Disposition
		Protocol    string
		Pods        []string
		Counts      Counts
	}
	var dests []dest
	for _, d := range r.Destinations {
		dests = append(dests, dest{d.Host, d.Disposition, d.Protocol, d.Pods, d.Counts})
	}
	want := []dest{
		{"api.github.com", DispositionRegistered, "HTTP", []string{"demo/shop"}, Counts{}},
		{"edition.cnn.com", DispositionPassthrough, "HTTP", []string{"demo/shop"}, Counts{Requests: 4}},
		{"example.com", DispositionBlocked, "HTTP", []string{"demo/shop"}, Counts{Requests: 2}},
		{"unknown", DispositionPassthrough, "TCP", []string{"demo/shop"}, Counts{Connections: 3, BytesSent: 700, BytesReceived: 5000}},
	}
	if diff := cmp.Diff(want, dests); diff != "" {
		t.Errorf("destinations (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{"demo/shop": {"shop-1"}}, got.Gaps); diff != "" {
		t.Errorf("gaps (-want +got):\n%s", diff)
	}

	// What a forward of shop-1 names replaces the unknown host; the rest stays.
	forwarded := PodReport{Pod: Pod{Namespace: "demo", Name: "shop-1", Workload: "deploy/shop"},
		Destinations: []Destination{{Host: "httpbin.org", Port: 443, Disposition: DispositionPassthrough, Pods: []string{"demo/shop-1"}}}}
	var hosts []string
	for _, d := range FillGaps(got.Workloads, []PodReport{forwarded}).Destinations {
		hosts = append(hosts, d.Host)
	}
	if diff := cmp.Diff([]string{"api.github.com", "edition.cnn.com", "example.com", "httpbin.org"}, hosts); diff != "" {
		t.Errorf("after the forward (-want +got):\n%s", diff)
	}
}
