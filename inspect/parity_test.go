package inspect

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// istioctlBinary is the istioctl of the Istio version the local mesh pins, built once from the
// Go module proxy into the tool cache by hack/istioctl.sh (or given by KUBECTL_EGRESS_ISTIOCTL).
func istioctlBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("istioctl parity needs istioctl (built once by hack/istioctl.sh): skipped in -short")
	}
	if p := os.Getenv("KUBECTL_EGRESS_ISTIOCTL"); p != "" {
		return p
	}
	cmd := exec.Command("../hack/istioctl.sh")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("failed to build istioctl with hack/istioctl.sh: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// runIstioctl runs istioctl and decodes its -o json output into v; ok is false when istioctl
// refused the input (its error is returned for the log).
func runIstioctl(t *testing.T, bin string, v any, args ...string) (string, bool) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		return strings.TrimSpace(string(out)), false
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("istioctl %s: output is not JSON: %v", strings.Join(args, " "), err)
	}
	return "", true
}

// istioctlAddress prints an address of istioctl's JSON the way the report does.
type istioctlAddress struct {
	SocketAddress *struct {
		Address   string `json:"address"`
		PortValue int    `json:"portValue"`
	} `json:"socketAddress"`
	Pipe *struct {
		Path string `json:"path"`
	} `json:"pipe"`
	EnvoyInternalAddress *struct {
		ServerListenerName string `json:"serverListenerName"`
	} `json:"envoyInternalAddress"`
}

func (a istioctlAddress) String() string {
	switch {
	case a.SocketAddress != nil:
		return fmt.Sprintf("%s:%d", a.SocketAddress.Address, a.SocketAddress.PortValue)
	case a.Pipe != nil:
		return "unix://" + a.Pipe.Path
	case a.EnvoyInternalAddress != nil:
		return "envoy://" + a.EnvoyInternalAddress.ServerListenerName
	}
	return ""
}

// TestIstioctlParity holds clusters[] to `istioctl proxy-config cluster --file X` and
// endpoints[] to `proxy-config eds --file X` (a dump's endpoint configs) and `proxy-config
// endpoint --file X` (a /clusters?format=json), on every real capture and istiod dump
// istioctl reads.
func TestIstioctlParity(t *testing.T) {
	bin := istioctlBinary(t)
	var dumps []string
	for _, g := range []string{corpusDir + "/configdump-*.json", corpusDir + "/endpointsdump-*.json", "../fixtures/samples/istiod/*.json", "../fixtures/samples/*.json"} {
		m, _ := filepath.Glob(g)
		dumps = append(dumps, m...)
	}
	clustersRead, edsRead, refused := 0, 0, 0
	for _, f := range dumps {
		t.Run(filepath.Base(f), func(t *testing.T) {
			rep, _ := Inspect(Sources{Pod: curlPod, ConfigDump: readFile(t, f)}, testNow)
			var clusters []struct {
				Name string `json:"name"`
			}
			if msg, ok := runIstioctl(t, bin, &clusters, "proxy-config", "cluster", "--file", f, "-o", "json"); ok {
				clustersRead++
				var want, got []string
				for _, c := range clusters {
					want = append(want, c.Name)
				}
				for _, c := range rep.Clusters {
					got = append(got, c.Name)
				}
				sort.Strings(want)
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("clusters differ from istioctl proxy-config cluster (-istioctl +report):\n%s", diff)
				}
			} else {
				refused++
				t.Logf("istioctl proxy-config cluster refuses it: %s", msg)
			}
			var eds []struct {
				ClusterName string `json:"clusterName"`
				Endpoints   []struct {
					LbEndpoints []struct {
						Endpoint struct {
							Address istioctlAddress `json:"address"`
						} `json:"endpoint"`
					} `json:"lbEndpoints"`
				} `json:"endpoints"`
			}
			if _, ok := runIstioctl(t, bin, &eds, "proxy-config", "eds", "--file", f, "-o", "json"); ok && len(eds) > 0 {
				edsRead++
				var want []hostExpected
				for _, c := range eds {
					for _, le := range c.Endpoints {
						for _, lb := range le.LbEndpoints {
							want = append(want, hostExpected{Cluster: c.ClusterName, Address: lb.Endpoint.Address.String()})
						}
					}
				}
				if diff := cmp.Diff(sortedHosts(want), hostsOf(rep.Endpoints, EndpointSourceEDS)); diff != "" {
					t.Errorf("endpoints differ from istioctl proxy-config eds (-istioctl +report):\n%s", diff)
				}
			}
		})
	}
	statuses, _ := filepath.Glob(corpusDir + "/clusters-json-*.json")
	for _, f := range statuses {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var cs []struct {
				Name         string `json:"name"`
				HostStatuses []struct {
					Address istioctlAddress `json:"address"`
				} `json:"hostStatuses"`
			}
			if msg, ok := runIstioctl(t, bin, &cs, "proxy-config", "endpoint", "--file", f, "-o", "json"); !ok {
				t.Fatalf("istioctl proxy-config endpoint: %s", msg)
			}
			var want []hostExpected
			for _, c := range cs {
				for _, h := range c.HostStatuses {
					want = append(want, hostExpected{Cluster: c.Name, Address: h.Address.String()})
				}
			}
			rep, err := Inspect(Sources{Pod: curlPod, Clusters: readFile(t, f)}, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(sortedHosts(want), hostsOf(rep.Endpoints, EndpointSourceClusters)); diff != "" {
				t.Errorf("endpoints differ from istioctl proxy-config endpoint (-istioctl +report):\n%s", diff)
			}
		})
	}
	t.Logf("istioctl parity: clusters on %d dumps istioctl reads (%d it refuses), EDS endpoints on %d, /clusters endpoints on %d files",
		clustersRead, refused, edsRead, len(statuses))
}
