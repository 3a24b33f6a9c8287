package inspect

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

const ztunnelFixtures = "../fixtures/ztunnel"

// istioctlReading is what `istioctl ztunnel-config services|workloads -o json` printed for a
// fixture dump, reduced to the fields compared (the fixture's .expect.yaml).
type istioctlReading struct {
	Services []struct {
		Namespace, Name, Hostname, Waypoint string
		VIPs                                []string          `json:"vips"`
		Ports                               map[uint32]uint32 `json:"ports"`
	} `json:"services"`
	Workloads []struct {
		UID, Name, Namespace, Protocol, Hostname, Waypoint string
		IPs                                                []string `json:"ips"`
	} `json:"workloads"`
}

// ParseZtunnelConfig reads both dump shapes as istioctl does.
func TestParseZtunnelConfigAsIstioctl(t *testing.T) {
	for _, name := range []string{"configdump-1.2x-istioctl-testdata.json", "configdump-1.31-hand-ztunnel-serde.json"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(ztunnelFixtures, name))
			if err != nil {
				t.Fatal(err)
			}
			e, err := os.ReadFile(filepath.Join(ztunnelFixtures, name+".expect.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var want istioctlReading
			if err := yaml.Unmarshal(e, &want); err != nil {
				t.Fatal(err)
			}
			cfg, err := ParseZtunnelConfig(b)
			if err != nil {
				t.Fatal(err)
			}
			type svc struct{ Namespace, Name, Hostname, Waypoint, VIPs, Ports string }
			type wl struct{ UID, Name, Namespace, Protocol, Hostname, Waypoint, IPs string }
			ports := func(m map[uint32]uint32) string {
				var s []string
				for k, v := range m {
					s = append(s, strconv.FormatUint(uint64(k), 10)+":"+strconv.FormatUint(uint64(v), 10))
				}
				sort.Strings(s)
				return strings.Join(s, ",")
			}
			var wantS, gotS []svc
			for _, s := range want.Services {
				wantS = append(wantS, svc{s.Namespace, s.Name, s.Hostname, s.Waypoint, strings.Join(s.VIPs, ","), ports(s.Ports)})
			}
			for _, s := range cfg.Services {
				gotS = append(gotS, svc{s.Namespace, s.Name, s.Hostname, s.Waypoint, strings.Join(s.VIPs, ","), ports(s.Ports)})
			}
			var wantW, gotW []wl
			for _, w := range want.Workloads {
				wantW = append(wantW, wl{w.UID, w.Name, w.Namespace, w.Protocol, w.Hostname, w.Waypoint, strings.Join(w.IPs, ",")})
			}
			for _, w := range cfg.Workloads {
				gotW = append(gotW, wl{w.UID, w.Name, w.Namespace, w.Protocol, w.Hostname, w.Waypoint, strings.Join(w.IPs, ",")})
			}
			byKey := func(s []svc) {
				sort.Slice(s, func(i, j int) bool { return s[i].Namespace+"/"+s[i].Hostname < s[j].Namespace+"/"+s[j].Hostname })
			}
			byKey(wantS)
			byKey(gotS)
			sort.Slice(wantW, func(i, j int) bool { return wantW[i].UID < wantW[j].UID })
			if diff := cmp.Diff(wantS, gotS); diff != "" {
				t.Errorf("services (-istioctl +ours):\n%s", diff)
			}
			if diff := cmp.Diff(wantW, gotW); diff != "" {
				t.Errorf("workloads (-istioctl +ours):\n%s", diff)
			}
		})
	}
}

// The 1.31 fixtures describe one ambient pod, shop/cart-7d9c5b7f6d-x2k4q (10.244.1.12), on a
// node whose ztunnel saw it call 203.0.113.60:80 with no service (passthrough), httpbin.org (a
// ServiceEntry of its namespace, sent out by ztunnel), www.wikipedia.org (a ServiceEntry of
// istio-egress bound to the waypoint istio-egress/waypoint) and api.stripe.com (a failed
// connection); the expected answers are read off those files (see fixtures/ztunnel/README.md).
func TestInspectAmbientFixtures(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(ztunnelFixtures, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	src := Sources{
		Pod: Pod{Namespace: "shop", Name: "cart-7d9c5b7f6d-x2k4q", Workload: "deploy/cart", Labels: map[string]string{DataplaneModeLabel: "ambient"}},
		Ztunnel: &ZtunnelSources{
			Pod:        Pod{Namespace: "istio-system", Name: "ztunnel-x7k2p"},
			PodIPs:     []string{"10.244.1.12"},
			ConfigDump: read("configdump-1.31-hand-ztunnel-serde.json"),
			Stats:      read("stats-1.31-hand-ztunnel-format.txt"),
			Log:        strings.NewReader(string(read("access-1.31-hand-ztunnel-format.log"))),
		},
	}
	rep, err := Inspect(src, time.Date(2026, 11, 21, 10, 5, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) > 0 {
		t.Errorf("errors: %v", rep.Errors)
	}
	type dest struct {
		Host        string
		Port        uint32
		Disposition Disposition
		Gateway     string
		Addresses   []string
		Signals     []Signal
		Counts      Counts
		Problems    []string
	}
	var got []dest
	for _, d := range rep.Destinations {
		got = append(got, dest{d.Host, d.Port, d.Disposition, d.Gateway, d.Addresses, d.Signals, d.Counts, d.Problems})
	}
	want := []dest{
		// The log's line with no dst.service, and the open connection to the same address; the
		// metrics' "unknown" row counts the same connections and is folded away.
		{Host: "203.0.113.60", Port: 80, Disposition: DispositionPassthrough, Addresses: []string{"203.0.113.60:80"},
			Signals: []Signal{SignalConfig, SignalAccessLog}, Counts: Counts{Connections: 1, BytesSent: 87, BytesReceived: 598}},
		// Not in the config: named by the log's dst.service, a failed connection.
		{Host: "api.stripe.com", Port: 443, Disposition: DispositionRegistered, Addresses: []string{"240.240.0.9:443"},
			Signals: []Signal{SignalAccessLog}, Counts: Counts{Connections: 1},
			Problems: []string{"ztunnel: no healthy upstream: 240.240.0.9:443 (1 connections)"}},
		// Log: 1 connection, 812 out, 5120 in; metrics: 2 connections, request bytes 1624,
		// response bytes 10240; each counter is the larger of the two.
		{Host: "httpbin.org", Port: 443, Disposition: DispositionRegistered, Addresses: []string{"203.0.113.10:443"},
			Signals: []Signal{SignalConfig, SignalAccessLog, SignalMetrics}, Counts: Counts{Connections: 2, BytesSent: 1624, BytesReceived: 10240}},
		{Host: "www.wikipedia.org", Port: 80, Disposition: DispositionEgressWaypoint, Gateway: "istio-egress/waypoint", Addresses: []string{"240.240.0.2:80"},
			Signals: []Signal{SignalConfig, SignalAccessLog, SignalMetrics}, Counts: Counts{Connections: 2, BytesSent: 186, BytesReceived: 1024}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("destinations (-want +got):\n%s", diff)
	}
	f := rep.Facts
	if f.Dataplane != DataplaneAmbientWaypoint || f.Ztunnel != "istio-system/ztunnel-x7k2p" || f.IstioVersion != "1.31.1" || f.ProxyType != ProxyZtunnel {
		t.Errorf("facts: dataplane %q, ztunnel %q, istio %q, proxy %q", f.Dataplane, f.Ztunnel, f.IstioVersion, f.ProxyType)
	}
	// Six lines: the version line, four connections of the pod, and another source's deny.
	if f.AccessLog.Lines != 6 || f.AccessLog.Entries != 4 || f.AccessLogging != AccessLoggingOn {
		t.Errorf("access log: %+v, %s", f.AccessLog, f.AccessLogging)
	}
}

// A pod whose connections are not in the ztunnel's log is read from its config and metrics; a
// dump that is not ztunnel's fails with the ztunnel named.
func TestInspectAmbientErrors(t *testing.T) {
	src := Sources{
		Pod:     Pod{Namespace: "shop", Name: "cart-0"},
		Ztunnel: &ZtunnelSources{Pod: Pod{Namespace: "istio-system", Name: "ztunnel-1"}, PodIPs: []string{"10.0.0.9"}, ConfigDump: []byte(`{"configs": []}`)},
	}
	_, err := Inspect(src, time.Now())
	if err == nil || !strings.Contains(err.Error(), "ztunnel istio-system/ztunnel-1") {
		t.Errorf("error: %v", err)
	}
}
