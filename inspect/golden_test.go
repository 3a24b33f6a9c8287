package inspect

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-egress/kubectl-egress/internal/golden"
)

// goldenReport is a two-pod report over real istiod dumps plus synthetic traffic: one pod behind
// TLS origination with passthrough traffic, one behind an egress gateway under REGISTRY_ONLY.
func goldenReport(t testing.TB) Report {
	t.Helper()
	web := Pod{Namespace: "shop", Name: "web-0", Workload: "deploy/web", Annotations: map[string]string{annotationExcludeOutboundPorts: "3306"}}
	a, err := Inspect(Sources{
		Pod:        curlPod,
		ConfigDump: readFile(t, "../fixtures/samples/istiod/tls-origination.json"),
		AccessLog:  strings.NewReader(e2eAccessLog),
		Stats:      []byte(e2eStats),
		Clusters:   []byte(e2eClusters),
	}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Inspect(Sources{
		Pod:        web,
		ConfigDump: readFile(t, "../fixtures/samples/istiod/egress-gateway-tlsmode.json"),
		AccessLog: strings.NewReader(`[2024-05-01T11:40:00.000Z] "- - -" 0 - - - "-" 700 9000 50 - "-" "-" "-" "-" "10.1.0.9:8443" outbound|443|cnn|istio-egressgateway.istio-system.svc.cluster.local 10.0.0.2:1 151.101.1.67:443 10.0.0.2:2 edition.cnn.com -
[2024-05-01T11:45:00.000Z] "- - -" 0 - - - "-" 517 4000 50 - "-" "-" "-" "-" "1.2.3.4:443" PassthroughCluster 10.0.0.2:3 1.2.3.4:443 10.0.0.2:4 api.stripe.com -
`),
		Errors: []error{os.ErrDeadlineExceeded},
	}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return Aggregate([]PodReport{b, a})
}

func TestGoldenOutputs(t *testing.T) {
	r := goldenReport(t)
	tests := []struct {
		name  string
		print func(*bytes.Buffer) error
	}{
		{"report_output.table", func(w *bytes.Buffer) error { return PrintReport(w, r, FormatTable) }},
		{"report_output.wide", func(w *bytes.Buffer) error { return PrintReport(w, r, FormatWide) }},
		{"report_output.json", func(w *bytes.Buffer) error { return PrintReport(w, r, FormatJSON) }},
		{"report_output.yaml", func(w *bytes.Buffer) error { return PrintReport(w, r, FormatYAML) }},
		{"clusters_output.table", func(w *bytes.Buffer) error { return PrintClusters(w, r, false) }},
		{"clusters_all_output.table", func(w *bytes.Buffer) error { return PrintClusters(w, r, true) }},
		{"endpoints_output.table", func(w *bytes.Buffer) error { return PrintEndpoints(w, r, false) }},
		{"empty_output.table", func(w *bytes.Buffer) error { return PrintReport(w, Aggregate(nil), FormatTable) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.print(&buf); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", tt.name), buf.Bytes())
		})
	}
}

func TestOutputIsDeterministic(t *testing.T) {
	var first string
	for i := 0; i < 5; i++ {
		var buf bytes.Buffer
		if err := PrintReport(&buf, goldenReport(t), FormatJSON); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = buf.String()
		} else if buf.String() != first {
			t.Fatal("two runs over the same input printed different JSON")
		}
	}
}

func TestPrintReportUnknownFormat(t *testing.T) {
	err := PrintReport(&bytes.Buffer{}, Report{}, "xml")
	if err == nil || err.Error() != `unknown output format "xml": use one of wide|json|yaml` {
		t.Errorf("err = %v", err)
	}
}

func TestPrintPods(t *testing.T) {
	r := Report{Pods: []PodFacts{
		{Namespace: "shop", Name: "cart-0", Workload: "deploy/cart", Dataplane: DataplaneAmbientWaypoint, ProxyType: ProxyZtunnel, IstioVersion: "1.31.1", AccessLogging: AccessLoggingOn},
		{Namespace: "shop", Name: "web-0", Workload: "deploy/web", Dataplane: DataplaneSidecar, IstioVersion: "1.31.1", OutboundMode: ModeRegistryOnly, AccessLogging: AccessLoggingOn,
			CaptureExclusions: []Bypass{{Annotation: "traffic.sidecar.istio.io/excludeOutboundIPRanges", Value: "10.0.0.0/8"}}},
		{Namespace: "shop", Name: "web-1", AccessLogging: AccessLoggingOff, Errors: []string{"boom"}},
		{Namespace: "istio-egress", Name: "waypoint-0", ProxyType: "waypoint", AccessLogging: AccessLoggingOn},
	}}
	var b strings.Builder
	if err := PrintPods(&b, r); err != nil {
		t.Fatal(err)
	}
	want := `NAMESPACE      POD          WORKLOAD      DATA PLANE         ISTIO    OUTBOUND MODE   ACCESS LOG   EXCLUSIONS                           ERRORS
shop           cart-0       deploy/cart   ambient+waypoint   1.31.1   -               on           -                                    0
shop           web-0        deploy/web    sidecar            1.31.1   REGISTRY_ONLY   on           excludeOutboundIPRanges=10.0.0.0/8   0
shop           web-1        -             -                  -        -               off          -                                    1
istio-egress   waypoint-0   -             waypoint           -        -               on           -                                    0
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("pods table (-want +got):\n%s", diff)
	}
}
