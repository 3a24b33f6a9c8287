//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// promNamespaces are the scenarios whose unregistered traffic both readings must name alike.
var promNamespaces = []string{"demo-passthrough", "demo-locked", "demo-canary", "demo-bypass"}

// Prometheus mode against a real Prometheus that scrapes the local mesh's stand-ins through
// Kubernetes service discovery: it names the same passthrough and blocked hosts as the
// forwarding inspect, for the hosts metrics can name (HTTP's Host); --then-forward fills the
// rest from the pods that made them. (--prometheus-service is tested in plugin/: the API server's
// service proxy only dials endpoint addresses of pods, never loopback, where this Prometheus is.)
func TestInspectPrometheus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	prom, err := lm.StartPrometheus(ctx, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prom.Stop)
	// Two scrapes of every scenario pod's TCP and HTTP series, so increase() has a window.
	eventually(t, 90*time.Second, "Prometheus scraped the scenario pods twice", func() error {
		for _, ns := range promNamespaces {
			q := fmt.Sprintf(`count(count_over_time(istio_tcp_connections_opened_total{source_workload_namespace=%q}[1m]) >= 2)`, ns)
			if n, err := promScalar(ctx, prom.URL, q); err != nil || n < 1 {
				return fmt.Errorf("namespace %s: %v series (%v)", ns, n, err)
			}
		}
		return nil
	})

	fromProm := inspectJSON(t, "-A", "--prometheus", prom.URL, "--since", "10m")
	forwarded := inspectJSON(t, "-A")
	want, got := map[string]string{}, map[string]string{}
	unknown := 0
	for _, d := range forwarded.Destinations {
		// Metrics name HTTP passthrough by its Host; TLS and TCP by nothing.
		if unregistered(d) && d.Protocol == "HTTP" && inScope(d.Pods) {
			want[d.Host] = string(d.Disposition)
		}
	}
	for _, d := range fromProm.Destinations {
		if !unregistered(d) || !inScope(d.Pods) {
			continue
		}
		if d.Host == "unknown" {
			unknown++
			continue
		}
		got[d.Host] = string(d.Disposition)
	}
	if len(want) == 0 {
		t.Fatal("the forwarding inspect named no HTTP passthrough or blocked host: nothing to compare")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("passthrough and blocked hosts, forwarding (-) vs Prometheus (+):\n%s", diff)
	}
	if unknown == 0 {
		t.Errorf("Prometheus named every TLS passthrough host: the scenarios' TLS calls should show as unknown")
	}
	if fromProm.Prometheus == nil || len(fromProm.Prometheus.Limits) == 0 {
		t.Errorf("the report does not say what Prometheus cannot tell: %+v", fromProm.Prometheus)
	}
	registered := false
	for _, d := range fromProm.Destinations {
		if d.Host == "httpbin.org" && d.Disposition == inspect.DispositionRegistered && slices.Contains(d.Pods, "demo-registered/reports") {
			registered = true
		}
	}
	if !registered {
		t.Errorf("demo-registered's ServiceEntry host httpbin.org is not registered in the Prometheus report")
	}

	t.Run("then-forward", func(t *testing.T) {
		r := inspectJSON(t, "-n", "demo-passthrough", "--prometheus", prom.URL, "--since", "10m", "--then-forward")
		// A host:port may have rows of several dispositions: an earlier test registered
		// httpbin.org:443 in this namespace for a few seconds, and a call made then is in the
		// log, through the ServiceEntry's cluster.
		hosts := map[string][]string{}
		for _, d := range r.Destinations {
			h := fmt.Sprintf("%s:%d", d.Host, d.Port)
			hosts[h] = append(hosts[h], string(d.Disposition))
		}
		for _, h := range []string{"httpbin.org:443", "198.51.100.7:8443"} {
			if !slices.Contains(hosts[h], "passthrough") {
				t.Errorf("%s not filled in as passthrough by the forward: %v", h, hosts)
			}
		}
		if _, ok := hosts["unknown:0"]; ok {
			t.Errorf("an unknown host is left after --then-forward: %v", hosts)
		}
		if r.Prometheus == nil || len(r.Prometheus.Forwarded) != 1 || !strings.HasPrefix(r.Prometheus.Forwarded[0], "demo-passthrough/shop-") {
			t.Errorf("forwarded to %+v, want the one shop pod", r.Prometheus)
		}
	})
}

func unregistered(d inspect.Destination) bool {
	return d.Disposition == inspect.DispositionPassthrough || d.Disposition == inspect.DispositionBlocked
}

// inScope reports whether a destination was seen in one of promNamespaces (pods are
// namespace/pod when forwarded, namespace/workload from Prometheus).
func inScope(pods []string) bool {
	for _, p := range pods {
		ns, _, _ := strings.Cut(p, "/")
		if slices.Contains(promNamespaces, ns) {
			return true
		}
	}
	return false
}

// promScalar runs an instant query and returns its first sample's value (0 when empty).
func promScalar(ctx context.Context, base, q string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		return 0, fmt.Errorf("%w: %s", err, b)
	}
	if body.Status != "success" {
		return 0, fmt.Errorf("query %s: %s", q, body.Error)
	}
	if len(body.Data.Result) == 0 {
		return 0, nil
	}
	var v float64
	s, _ := body.Data.Result[0].Value[1].(string)
	_, err = fmt.Sscan(s, &v)
	return v, err
}
