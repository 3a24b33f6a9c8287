package mesh

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Prometheus is a real Prometheus scraping the mesh's stand-ins the way
// Istio's sample config scrapes sidecars: Kubernetes service discovery of pods on the mesh's
// API server, kept by their prometheus.io annotations.
type Prometheus struct {
	URL  string
	proc *process
}

// prometheusConfig is Istio's sample `kubernetes-pods` job with one rule of our own: the
// stand-ins serve /stats/prometheus on loopback ports, not on the fake pod IPs, so __address__
// is rewritten from the ScrapeAddressAnnotation the mesh writes on each pod (everything stays
// on 127.0.0.1).
const prometheusConfig = `global:
  scrape_interval: %[1]s
  evaluation_interval: %[1]s
scrape_configs:
- job_name: kubernetes-pods
  kubernetes_sd_configs:
  - role: pod
    api_server: https://127.0.0.1:%[2]d
    tls_config: {ca_file: %[3]q}
    authorization: {credentials: %[4]q}
  relabel_configs:
  - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
    action: keep
    regex: "true"
  - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
    action: replace
    target_label: __metrics_path__
    regex: (.+)
  # The local mesh only: the stand-in's loopback address instead of POD_IP:prometheus.io/port.
  - source_labels: [__meta_kubernetes_pod_annotation_localmesh_kubectl_egress_dev_scrape_address]
    action: keep
    regex: (.+)
  - source_labels: [__meta_kubernetes_pod_annotation_localmesh_kubectl_egress_dev_scrape_address]
    action: replace
    target_label: __address__
    regex: (.+)
  - source_labels: [__meta_kubernetes_namespace]
    action: replace
    target_label: namespace
  - source_labels: [__meta_kubernetes_pod_name]
    action: replace
    target_label: pod
`

// StartPrometheus runs the tools' Prometheus (hack/tools.sh builds it with Kubernetes service
// discovery, which Debian's 2.42 package lacks) with its own config and a storage directory
// under the mesh's, listening on 127.0.0.1.
func (m *Mesh) StartPrometheus(ctx context.Context, scrapeInterval time.Duration) (*Prometheus, error) {
	bin := filepath.Join(m.opts.Tools, "prometheus")
	dir := filepath.Join(m.opts.Dir, "prometheus")
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	body := fmt.Sprintf(prometheusConfig, scrapeInterval, m.APIPort, filepath.Join(m.opts.Dir, "certs", "apiserver.crt"), m.Token)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	proc, err := startProcess(m.opts.Dir, "prometheus", bin, []string{
		"--config.file=" + cfg, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr, "--storage.tsdb.retention.time=1d",
	}, nil)
	if err != nil {
		return nil, err
	}
	p := &Prometheus{URL: "http://" + addr, proc: proc}
	if err := proc.waitHTTP(ctx, p.URL+"/-/ready"); err != nil {
		proc.stop()
		return nil, err
	}
	return p, nil
}

// Stop ends Prometheus.
func (p *Prometheus) Stop() { p.proc.stop() }
