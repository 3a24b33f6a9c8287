package plugin

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-egress/kubectl-egress/internal/golden"
)

// TestCommands runs the root command as a user would, with args and no cluster (saved admin
// outputs, or arguments refused before a cluster is needed), and compares stdout, stderr and
// the exit code with testdata/cmd/<name>.golden (go test ./plugin -update rewrites them).
func TestCommands(t *testing.T) {
	samples := filepath.Join("..", "fixtures", "samples")
	istiod := filepath.Join(samples, "istiod")
	noCluster := []string{"--kubeconfig", filepath.Join("testdata", "cmd", "kubeconfig")}
	tests := []struct {
		name string
		args []string
	}{
		{"inspect_file_table", []string{"inspect", "--file", filepath.Join(istiod, "tls-origination.json")}},
		{"inspect_file_wide", []string{"inspect", "--file", filepath.Join(istiod, "egress-gateway.json"), "-o", "wide"}},
		{"inspect_file_json", []string{"inspect", "--file", filepath.Join(istiod, "tls-origination-no-dr.json"), "-o", "json"}},
		{"inspect_file_clusters", []string{"inspect", "--file", filepath.Join(istiod, "se-tls.json"), "--clusters"}},
		{"inspect_file_clusters_all", []string{"inspect", "--file", filepath.Join(istiod, "se-tls.json"), "--clusters", "--all"}},
		{"inspect_file_endpoints", []string{"inspect", "--file", filepath.Join(samples, "istio-sidecar-config_dump-with-eds.json"), "--endpoints", "--all"}},
		{"inspect_file_pods", []string{"inspect", "--file", filepath.Join(istiod, "registry-only.json"), "--pods"}},
		{"inspect_file_access_log", []string{"inspect", "--file", filepath.Join(samples, "accesslog-text-istioio-egress-control-task.txt"), "-o", "wide"}},
		{"inspect_file_access_log_json", []string{"inspect", "--file", filepath.Join(samples, "accesslog-text-istioio-egress-control-task.txt"), "-o", "json"}},
		{"inspect_file_show_paths", []string{"inspect", "--file", filepath.Join(samples, "accesslog-text-istioio-egress-control-task.txt"), "-o", "wide", "--show-paths"}},
		{"inspect_file_stats", []string{"inspect", "--file", filepath.Join(samples, "stats-prometheus-blackhole-istio-21385.txt")}},
		{"inspect_file_missing", []string{"inspect", "--file", filepath.Join("testdata", "no-such-capture.json")}},
		{"inspect_views_conflict", []string{"inspect", "--file", filepath.Join(istiod, "se-tls.json"), "--clusters", "--pods"}},
		{"inspect_bad_output", []string{"inspect", "--file", filepath.Join(istiod, "se-tls.json"), "-o", "table"}},
		{"register_url", append([]string{"register", "https://httpbin.org/get"}, noCluster...)},
		{"register_protocol_without_port", append([]string{"register", "httpbin.org", "--protocol", "TLS"}, noCluster...)},
		{"tls_origination_two_trusts", append([]string{"enable-tls-origination", "httpbin.org", "--ca-cert", "/ca.pem", "--credential-name", "ca"}, noCluster...)},
		{"gateway_timeout_passthrough", append([]string{"route-via-gateway", "httpbin.org", "--timeout", "5s"}, noCluster...)},
		{"verify_no_host", append([]string{"verify"}, noCluster...)},
		{"fix_no_terminal", append([]string{"fix"}, noCluster...)},
		{"undo_host_and_all", append([]string{"undo", "httpbin.org", "--all"}, noCluster...)},
		{"register_no_cluster", append([]string{"register", "httpbin.org", "--port", "443", "--protocol", "TLS", "--istio-version", "1.31", "--yes"}, noCluster...)},
		{"inspect_no_cluster", append([]string{"inspect", "-n", "shop"}, noCluster...)},
		{"inspect_file_truncated", []string{"inspect", "--file", filepath.Join("testdata", "truncated-config_dump.json")}},
		{"inspect_admin_url_refused", []string{"inspect", "--admin-url", "http://127.0.0.1:1"}},
		{"inspect_admin_url_not_a_url", []string{"inspect", "--admin-url", "localhost:15000"}},
		{"verify_no_cluster", append([]string{"verify", "httpbin.org", "-n", "shop"}, noCluster...)},
		{"list_no_cluster", append([]string{"list", "-n", "shop"}, noCluster...)},
		{"undo_no_cluster", append([]string{"undo", "httpbin.org", "-n", "shop", "--yes"}, noCluster...)},
		{"inspect_no_cluster_token", append([]string{"inspect", "-n", "shop", "--token", "s3cr3t-t0ken-never-printed"}, noCluster...)},
		{"inspect_bad_client_key", []string{"inspect", "-n", "shop", "--kubeconfig", filepath.Join("testdata", "cmd", "kubeconfig-client-key")}},
	}
	defer func(c func() time.Time) { clock = c }(clock)
	clock = func() time.Time { return time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			streams, _, out, errOut := genericiooptions.NewTestIOStreams()
			code := Execute(streams, tt.args)
			got := fmt.Sprintf("$ kubectl egress %s\nexit: %d\n--- stdout\n%s--- stderr\n%s",
				strings.Join(tt.args, " "), code, out.String(), errOut.String())
			golden.Check(t, filepath.Join("testdata", "cmd", tt.name+".golden"), []byte(got))
			// Request paths and queries (tokens) are printed only when asked for.
			if !slices.Contains(tt.args, "--show-paths") && strings.Contains(out.String(), "GET /") {
				t.Errorf("a request path is printed without --show-paths")
			}
			// Errors never echo a credential: the token above, the client key's bytes (decoded or not).
			for _, secret := range []string{"s3cr3t-t0ken", "SECRET-KEY", "U0VDUkVULUtFWS"} {
				if strings.Contains(out.String()+errOut.String(), secret) {
					t.Errorf("the output shows a credential (%s)", secret)
				}
			}
		})
	}
}
