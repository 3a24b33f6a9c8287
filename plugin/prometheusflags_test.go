package plugin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// prometheusServer answers every query with one passthrough sample, and records the paths and
// Authorization headers it was asked with.
func prometheusServer(t *testing.T, seen *[]string) *httptest.Server {
	t.Helper()
	// TLS: client-go gives the kubeconfig's credentials to TLS servers only.
	return httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*seen = append(*seen, r.URL.Path+" "+r.Header.Get("Authorization"))
		_ = r.ParseForm()
		result := `[]`
		if strings.HasPrefix(r.Form.Get("query"), "sum by") && strings.Contains(r.Form.Get("query"), "istio_requests_total{") {
			result = `[{"metric":{"source_workload":"shop","source_workload_namespace":"demo","destination_service":"edition.cnn.com","destination_service_name":"PassthroughCluster"},"value":[1700000000,"3"]}]`
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":` + result + `}}`))
	}))
}

// --prometheus with a bearer token, and --prometheus-service through the API server's service
// proxy with the kubeconfig's credentials, ask the same queries at the right paths.
func TestInspectPrometheusFlags(t *testing.T) {
	var seen []string
	srv := prometheusServer(t, &seen)
	defer srv.Close()
	tests := []struct {
		name     string
		args     []string
		wantPath string
	}{
		{"direct", []string{"--prometheus", srv.URL + "/prom", "--prometheus-token", "s3cret", "--prometheus-insecure-skip-tls-verify"}, "/prom/api/v1/query Bearer s3cret"},
		{"service proxy", []string{"--prometheus-service", "istio-system/prometheus:9090", "--server", srv.URL, "--token", "kube-token", "--insecure-skip-tls-verify"},
			"/api/v1/namespaces/istio-system/services/prometheus:9090/proxy/api/v1/query Bearer kube-token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen = nil
			var out, errOut bytes.Buffer
			flags := genericclioptions.NewConfigFlags(true)
			cmd := NewCmdInspect(flags, genericiooptions.IOStreams{Out: &out, ErrOut: &errOut})
			flags.AddFlags(cmd.Flags())
			cmd.SetArgs(append([]string{"-A", "-o", "json", "--kubeconfig", "/dev/null"}, tt.args...))
			if err := cmd.Execute(); err != nil {
				t.Fatalf("%v\n%s", err, errOut.String())
			}
			if len(seen) == 0 || seen[0] != tt.wantPath {
				t.Errorf("asked %v, want %q", seen, tt.wantPath)
			}
			var r inspect.Report
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range r.Destinations {
				got = append(got, d.Host+" "+string(d.Disposition)+" "+strings.Join(d.Pods, ","))
			}
			if diff := cmp.Diff([]string{"edition.cnn.com passthrough demo/shop"}, got); diff != "" {
				t.Errorf("destinations (-want +got):\n%s", diff)
			}
			if r.Prometheus == nil || r.Prometheus.Window != "1h0m0s" || len(r.Prometheus.Limits) == 0 {
				t.Errorf("prometheus = %+v", r.Prometheus)
			}
		})
	}
}
