package inspect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ZtunnelConfig is what a ztunnel's admin /config_dump says (ztunnel src/admin.rs): the
// workloads and services istiod sent it, and the pods it proxies with their open connections.
// Older ztunnels keyed workloads and services by address in JSON objects, newer ones list them;
// both are read, as istioctl ztunnel-config does.
type ZtunnelConfig struct {
	// IstioVersion is the build's version.istioVersion, "" when the dump has no version.
	IstioVersion string
	Workloads    []ZtunnelWorkload
	Services     []ZtunnelService
	// Pods are the workloadState entries: the pods this ztunnel proxies, by pod UID.
	Pods map[string]ZtunnelPod
}

// ZtunnelWorkload is one workload (a pod, or a ServiceEntry's endpoint) as ztunnel knows it.
type ZtunnelWorkload struct {
	UID          string
	Name         string
	Namespace    string
	WorkloadName string
	// Protocol is HBONE or TCP.
	Protocol string
	// IPs are the workload's addresses; a ServiceEntry endpoint by name has Hostname instead.
	IPs      []string
	Hostname string
	Node     string
	// Waypoint is the workload's own waypoint: "NAMESPACE/HOSTNAME" or "NETWORK/IP", "" when none.
	Waypoint string
	// Services are the "NAMESPACE/HOSTNAME" of the services it backs.
	Services []string
}

// ZtunnelService is one service (a Kubernetes Service or a ServiceEntry host).
type ZtunnelService struct {
	Name      string
	Namespace string
	Hostname  string
	// VIPs are the service's addresses (the network prefix of ztunnel's "NETWORK/IP" removed).
	VIPs []string
	// Ports maps each service port to the port its endpoints listen on.
	Ports map[uint32]uint32
	// Waypoint is the service's waypoint: "NAMESPACE/HOSTNAME" or "NETWORK/IP", "" when none.
	Waypoint string
	// Endpoints are the UIDs of the workloads behind it.
	Endpoints []string
}

// ZtunnelPod is one pod ztunnel proxies (workloadState).
type ZtunnelPod struct {
	Name, Namespace, ServiceAccount string
	Outbound                        []ZtunnelConnection
}

// ZtunnelConnection is an open outbound connection: the address the app dialed, the next hop
// ztunnel chose, and how (TCP, HBONE, DOUBLEHBONE).
type ZtunnelConnection struct {
	Src, OriginalDst, ActualDst, Protocol string
}

type rawZtunnelDump struct {
	Workloads     json.RawMessage `json:"workloads"`
	Services      json.RawMessage `json:"services"`
	WorkloadState map[string]struct {
		Connections struct {
			Outbound []struct {
				Src         string `json:"src"`
				OriginalDst string `json:"originalDst"`
				ActualDst   string `json:"actualDst"`
				Protocol    string `json:"protocol"`
			} `json:"outbound"`
		} `json:"connections"`
		Info struct {
			Name           string `json:"name"`
			Namespace      string `json:"namespace"`
			ServiceAccount string `json:"serviceAccount"`
		} `json:"info"`
	} `json:"workloadState"`
	Version struct {
		IstioVersion string `json:"istioVersion"`
	} `json:"version"`
}

type rawGateway struct {
	Destination string `json:"destination"`
}

type rawZtunnelWorkload struct {
	UID          string      `json:"uid"`
	Name         string      `json:"name"`
	Namespace    string      `json:"namespace"`
	WorkloadName string      `json:"workloadName"`
	Protocol     string      `json:"protocol"`
	WorkloadIPs  []string    `json:"workloadIps"`
	Hostname     string      `json:"hostname"`
	Node         string      `json:"node"`
	Waypoint     *rawGateway `json:"waypoint"`
	Services     []string    `json:"services"`
}

type rawZtunnelService struct {
	Name      string                     `json:"name"`
	Namespace string                     `json:"namespace"`
	Hostname  string                     `json:"hostname"`
	VIPs      []string                   `json:"vips"`
	Ports     map[string]json.Number     `json:"ports"`
	Waypoint  *rawGateway                `json:"waypoint"`
	Endpoints map[string]json.RawMessage `json:"endpoints"`
}

// ParseZtunnelConfig reads a ztunnel /config_dump.
func ParseZtunnelConfig(b []byte) (ZtunnelConfig, error) {
	var raw rawZtunnelDump
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return ZtunnelConfig{}, fmt.Errorf("not a ztunnel config dump: %w", err)
	}
	if raw.Workloads == nil && raw.Services == nil {
		return ZtunnelConfig{}, fmt.Errorf("not a ztunnel config dump: no workloads and no services")
	}
	cfg := ZtunnelConfig{IstioVersion: raw.Version.IstioVersion, Pods: map[string]ZtunnelPod{}}
	var workloads []rawZtunnelWorkload
	if err := listOrMap(raw.Workloads, &workloads); err != nil {
		return cfg, fmt.Errorf("workloads: %w", err)
	}
	for _, w := range workloads {
		zw := ZtunnelWorkload{UID: w.UID, Name: w.Name, Namespace: w.Namespace, WorkloadName: w.WorkloadName,
			Protocol: w.Protocol, IPs: w.WorkloadIPs, Hostname: w.Hostname, Node: w.Node, Services: w.Services}
		if w.Waypoint != nil {
			zw.Waypoint = w.Waypoint.Destination
		}
		cfg.Workloads = append(cfg.Workloads, zw)
	}
	var services []rawZtunnelService
	if err := listOrMap(raw.Services, &services); err != nil {
		return cfg, fmt.Errorf("services: %w", err)
	}
	for _, s := range services {
		zs := ZtunnelService{Name: s.Name, Namespace: s.Namespace, Hostname: s.Hostname, Ports: map[uint32]uint32{}}
		for _, v := range s.VIPs {
			zs.VIPs = append(zs.VIPs, stripNetwork(v))
		}
		for k, v := range s.Ports {
			port, err1 := strconv.ParseUint(k, 10, 32)
			target, err2 := strconv.ParseUint(v.String(), 10, 32)
			if err1 == nil && err2 == nil {
				zs.Ports[uint32(port)] = uint32(target)
			}
		}
		if s.Waypoint != nil {
			zs.Waypoint = s.Waypoint.Destination
		}
		for k, ep := range s.Endpoints {
			var e struct {
				WorkloadUID string `json:"workloadUid"`
			}
			if json.Unmarshal(ep, &e) == nil && e.WorkloadUID != "" {
				zs.Endpoints = append(zs.Endpoints, e.WorkloadUID)
			} else {
				uid, _, _ := strings.Cut(k, ":")
				zs.Endpoints = append(zs.Endpoints, uid)
			}
		}
		sort.Strings(zs.Endpoints)
		cfg.Services = append(cfg.Services, zs)
	}
	sort.Slice(cfg.Workloads, func(i, j int) bool { return cfg.Workloads[i].UID < cfg.Workloads[j].UID })
	sort.Slice(cfg.Services, func(i, j int) bool {
		a, b := cfg.Services[i], cfg.Services[j]
		return a.Hostname+"/"+a.Namespace < b.Hostname+"/"+b.Namespace
	})
	for uid, st := range raw.WorkloadState {
		p := ZtunnelPod{Name: st.Info.Name, Namespace: st.Info.Namespace, ServiceAccount: st.Info.ServiceAccount}
		for _, c := range st.Connections.Outbound {
			p.Outbound = append(p.Outbound, ZtunnelConnection{Src: c.Src, OriginalDst: c.OriginalDst, ActualDst: c.ActualDst, Protocol: c.Protocol})
		}
		cfg.Pods[uid] = p
	}
	return cfg, nil
}

// listOrMap decodes a JSON list, or the values of a JSON object (older ztunnels).
func listOrMap[T any](raw json.RawMessage, out *[]T) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	if raw[0] == '[' {
		return json.Unmarshal(raw, out)
	}
	m := map[string]T{}
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		*out = append(*out, m[k])
	}
	return nil
}

// stripNetwork takes ztunnel's "NETWORK/IP" to the IP.
func stripNetwork(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// ServiceByHost finds a service by namespace and hostname.
func (c ZtunnelConfig) ServiceByHost(namespace, hostname string) *ZtunnelService {
	for i := range c.Services {
		if c.Services[i].Namespace == namespace && c.Services[i].Hostname == hostname {
			return &c.Services[i]
		}
	}
	return nil
}

// ServiceByVIP finds the service an address belongs to.
func (c ZtunnelConfig) ServiceByVIP(ip string) *ZtunnelService {
	for i := range c.Services {
		for _, v := range c.Services[i].VIPs {
			if v == ip {
				return &c.Services[i]
			}
		}
	}
	return nil
}

// WorkloadByUID finds a workload by its UID.
func (c ZtunnelConfig) WorkloadByUID(uid string) *ZtunnelWorkload {
	for i := range c.Workloads {
		if c.Workloads[i].UID == uid {
			return &c.Workloads[i]
		}
	}
	return nil
}

// WorkloadByIP finds the workload that has an address.
func (c ZtunnelConfig) WorkloadByIP(ip string) *ZtunnelWorkload {
	for i := range c.Workloads {
		for _, a := range c.Workloads[i].IPs {
			if a == ip {
				return &c.Workloads[i]
			}
		}
	}
	return nil
}

// PodWorkload finds a pod's workload: Istio names it "CLUSTER//Pod/NAMESPACE/NAME".
func (c ZtunnelConfig) PodWorkload(namespace, name string) *ZtunnelWorkload {
	for i := range c.Workloads {
		w := &c.Workloads[i]
		if w.Namespace == namespace && w.Name == name && strings.Contains(w.UID, "/Pod/") {
			return w
		}
	}
	return nil
}

// WaypointPods are the pods ("NAMESPACE/NAME") behind a waypoint address as services and
// workloads name it: "NAMESPACE/HOSTNAME" of the waypoint's service, or "NETWORK/IP".
func (c ZtunnelConfig) WaypointPods(dest string) []string {
	var uids []string
	if ns, host, ok := strings.Cut(dest, "/"); ok && !isIP(host) {
		if s := c.ServiceByHost(ns, host); s != nil {
			uids = s.Endpoints
		}
	} else {
		ip := stripNetwork(dest)
		if w := c.WorkloadByIP(ip); w != nil {
			uids = []string{w.UID}
		} else if s := c.ServiceByVIP(ip); s != nil {
			uids = s.Endpoints
		}
	}
	var pods []string
	for _, uid := range uids {
		if w := c.WorkloadByUID(uid); w != nil && strings.Contains(w.UID, "/Pod/") {
			pods = append(pods, w.Namespace+"/"+w.Name)
		}
	}
	sort.Strings(pods)
	return pods
}

// WaypointName is the name of a waypoint as its Gateway is named: the short name of the
// waypoint service's hostname, with its namespace ("istio-egress/waypoint" from
// "istio-egress/waypoint.istio-egress.svc.cluster.local"); an address is returned as it is.
func WaypointName(dest string) string {
	ns, host, ok := strings.Cut(dest, "/")
	if !ok || isIP(host) {
		return stripNetwork(dest)
	}
	name, _, _ := strings.Cut(host, ".")
	return ns + "/" + name
}
