package inspect

import "time"

// The report is the contract of `kubectl egress inspect -o json|yaml` and of the fix planners:
// field names and meanings are stable; new fields may be added. docs: testdata/report.schema.json.

// ReportKind and ReportAPIVersion identify the JSON/YAML document.
const (
	ReportKind       = "EgressReport"
	ReportAPIVersion = "kubectl-egress.io/v1alpha1"
)

// Report is the egress report for one or more pods.
type Report struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	// GeneratedAt is when the sources were read.
	GeneratedAt time.Time `json:"generatedAt"`
	// Destinations are the external destinations, one per host, port and disposition, sorted by host then port.
	Destinations []Destination `json:"destinations"`
	// Clusters are every cluster in the proxies' configuration, sorted by name.
	Clusters []Cluster `json:"clusters"`
	// Endpoints are every cluster host, from /clusters (or the config dump when /clusters was not read).
	Endpoints []Endpoint `json:"endpoints"`
	// Pods are the facts of each inspected pod, sorted by namespace/name. In a report answered
	// from Prometheus they are the source workloads, and the pods --then-forward read.
	Pods []PodFacts `json:"pods"`
	// Prometheus is set when the report was answered from Prometheus (--prometheus).
	Prometheus *PrometheusSource `json:"prometheus,omitempty"`
}

// PrometheusSource says how a report was answered from Prometheus and what it cannot tell.
type PrometheusSource struct {
	// Window is how far back Prometheus was asked (--since).
	Window string `json:"window"`
	// Limits are what Istio's metrics cannot tell.
	Limits []string `json:"limits"`
	// Forwarded are the pods (namespace/name) read through a port-forward to fill the gaps (--then-forward).
	Forwarded []string `json:"forwarded,omitempty"`
	// Warnings are Prometheus's own warnings about the queries.
	Warnings []string `json:"warnings,omitempty"`
}

// PodReport is the report of one pod, before Aggregate joins pods.
type PodReport struct {
	// Pod is the inspected pod as the fetch side described it.
	Pod          Pod           `json:"-"`
	Facts        PodFacts      `json:"facts"`
	Destinations []Destination `json:"destinations"`
	Clusters     []Cluster     `json:"clusters"`
	Endpoints    []Endpoint    `json:"endpoints"`
	// Errors are fetch and parse errors; Aggregate copies them into the pod's facts.
	Errors []string `json:"errors,omitempty"`
	// Metrics are the pod's Istio metric samples with all their labels, for checks that need
	// them (verify); nil when stats were not read.
	Metrics     []MetricSample `json:"-"`
	GeneratedAt time.Time      `json:"generatedAt"`
}

// Disposition is how the proxy handles traffic to a destination.
type Disposition string

// Dispositions, from the least to the most controlled.
const (
	// DispositionBypassed: excluded from the sidecar by a pod annotation; no signal can see it.
	DispositionBypassed Disposition = "bypassed"
	// DispositionPassthrough: unregistered, sent through PassthroughCluster (ALLOW_ANY).
	DispositionPassthrough Disposition = "passthrough"
	// DispositionDynamicDNS: unregistered plain HTTP that Istio's dynamic-DNS catch-all
	// (ALLOW_ANY_DYNAMIC_DNS, AllowAnyDynamicDNSCluster) resolved by its Host header and sent
	// out: named, but sharing one cluster with every unregistered host.
	DispositionDynamicDNS Disposition = "dynamic-dns"
	// DispositionBlocked: unregistered, dropped by BlackHoleCluster (REGISTRY_ONLY).
	DispositionBlocked Disposition = "blocked"
	// DispositionRegistered: own cluster (a ServiceEntry), no TLS by the sidecar: the app does TLS, L4 only.
	DispositionRegistered Disposition = "registered"
	// DispositionTLSOrigination: own cluster with an upstream TLS transport socket: the sidecar sees L7.
	DispositionTLSOrigination Disposition = "tls-origination"
	// DispositionEgressGateway: routed to an egress gateway service.
	DispositionEgressGateway Disposition = "egress-gateway"
	// DispositionEgressWaypoint: ambient mode; ztunnel tunnelled it to the waypoint the
	// ServiceEntry uses (istio.io/use-waypoint), which sends it out.
	DispositionEgressWaypoint Disposition = "egress-waypoint"
)

// Allowed tells whether the disposition is unregistered traffic the proxy lets out today:
// passthrough or dynamic DNS. REGISTRY_ONLY would block it.
func (d Disposition) Allowed() bool {
	return d == DispositionPassthrough || d == DispositionDynamicDNS
}

// Unregistered tells whether no ServiceEntry covers the traffic: let out (Allowed) or blocked.
func (d Disposition) Unregistered() bool {
	return d.Allowed() || d == DispositionBlocked
}

// Signal names a source of evidence.
type Signal string

// Signals, in the order the report lists them.
const (
	SignalConfig     Signal = "config"     // the proxy's clusters, listeners and routes
	SignalAccessLog  Signal = "accesslog"  // istio-proxy access-log lines
	SignalMetrics    Signal = "metrics"    // Istio standard metrics or Envoy cluster stats
	SignalClusters   Signal = "clusters"   // /clusters hosts (PassthroughCluster's original destinations)
	SignalAnnotation Signal = "annotation" // pod traffic annotations
)

var signalOrder = map[Signal]int{SignalConfig: 0, SignalAccessLog: 1, SignalMetrics: 2, SignalClusters: 3, SignalAnnotation: 4}

// Fix is a remedy, one per `kubectl egress` command that writes objects; the first four are the
// ones inspect recommends for a destination. It is recorded on every object kubectl-egress writes.
type Fix string

// Fixes.
const (
	FixNone           Fix = "none"
	FixRegister       Fix = "register"
	FixTLSOrigination Fix = "tls-origination"
	FixEgressGateway  Fix = "egress-gateway"
	// FixLockdown is the Sidecar (and NetworkPolicy) that takes workloads to REGISTRY_ONLY.
	FixLockdown Fix = "lockdown"
	// FixLogging is the Telemetry that logs passthrough and blocked traffic only.
	FixLogging Fix = "logging"
	// FixAlias is a short name for an external host: the sidecar resolves it, rewrites the
	// authority and originates TLS to the real host.
	FixAlias Fix = "alias"
)

// Destination is one external destination of the inspected pods.
type Destination struct {
	// Host is the TLS SNI, the HTTP Host/:authority (without port), the original destination IP,
	// a ServiceEntry host, a CIDR (bypassed by IP range), "*" (bypassed by port, or everything
	// outside includeOutboundIPRanges), or "unknown" (passthrough traffic no signal could name).
	Host string `json:"host"`
	// Port is the destination port; 0 when no signal told it (Istio metrics carry no port).
	Port uint32 `json:"port"`
	// Protocol is HTTP, TLS, TCP, or "" when unknown.
	Protocol    string      `json:"protocol"`
	Disposition Disposition `json:"disposition"`
	// Cluster is the Envoy cluster the traffic uses (PassthroughCluster, outbound|443||HOST, …).
	Cluster string `json:"cluster,omitempty"`
	// Gateway is the egress gateway service, for the egress-gateway disposition.
	Gateway string `json:"gateway,omitempty"`
	// HostRewrite is the Host/:authority the proxy's route sends instead of Host (a
	// VirtualService's rewrite.authority): an alias's real host.
	HostRewrite string `json:"hostRewrite,omitempty"`
	// Addresses are the IP:port original destinations seen for this host.
	Addresses []string `json:"addresses,omitempty"`
	// Pods are the pods (namespace/name) whose proxies saw it.
	Pods []string `json:"pods"`
	// Signals are the kinds of evidence that saw it.
	Signals []Signal `json:"signals"`
	Counts  Counts   `json:"counts"`
	// ResponseCodes counts HTTP responses by code ("200", "502"), from access logs and metrics.
	ResponseCodes map[string]int64 `json:"responseCodes,omitempty"`
	// ResponseFlags counts Envoy response flags (UH, NR, UF…).
	ResponseFlags map[string]int64 `json:"responseFlags,omitempty"`
	// Requests counts HTTP requests by "METHOD PATH", query string included, as access logs show
	// them (a few per pod). Paths and queries can carry tokens: the commands drop them from what
	// they print unless --show-paths is given (Report.WithoutRequests).
	Requests map[string]int64 `json:"requests,omitempty"`
	// LastSeen is the newest access-log start time for it.
	LastSeen *time.Time `json:"lastSeen,omitempty"`
	// Problems are misconfigurations found for it.
	Problems []string `json:"problems,omitempty"`
	// Bypass is the pod annotation that takes this traffic around the sidecar.
	Bypass         *Bypass        `json:"bypass,omitempty"`
	Recommendation Recommendation `json:"recommendation"`
}

// Counts are traffic counters from the workload's point of view. Signals watch the same traffic,
// so within one pod each counter is the largest any one signal reported; across pods they add up.
type Counts struct {
	Connections   int64 `json:"connections"`
	Requests      int64 `json:"requests"`
	BytesSent     int64 `json:"bytesSent"`
	BytesReceived int64 `json:"bytesReceived"`
}

// Recommendation is the fix to apply to a destination and why.
type Recommendation struct {
	Fix    Fix    `json:"fix"`
	Reason string `json:"reason"`
}

// Bypass is a capture exclusion from a pod annotation.
type Bypass struct {
	Annotation string `json:"annotation"`
	Value      string `json:"value"`
}

// Cluster is one cluster of a proxy's configuration, in istioctl proxy-config cluster terms.
type Cluster struct {
	Name string `json:"name"`
	// Type is the discovery type: EDS, STRICT_DNS, LOGICAL_DNS, STATIC, ORIGINAL_DST; "" when only
	// endpoints were dumped.
	Type string `json:"type"`
	// Direction is outbound, inbound, or "" for special clusters.
	Direction string `json:"direction"`
	Port      uint32 `json:"port"`
	Subset    string `json:"subset"`
	// Host is the service FQDN (what follows the last "|").
	Host string `json:"host"`
	// External is true for ServiceEntry (MESH_EXTERNAL) hosts and non-cluster-local hosts.
	External bool `json:"external"`
	// TLS is the upstream TLS the sidecar does: "" none, SIMPLE or MUTUAL (origination),
	// ISTIO_MUTUAL, or AUTO_ISTIO_MUTUAL (mTLS only to endpoints labelled tlsMode=istio).
	TLS string `json:"tls"`
	// SNI is the SNI the sidecar sends: the configured value, "auto" (from the Host header), or "".
	SNI string `json:"sni,omitempty"`
	// EndpointPorts are the ports of the cluster's inline endpoints (a ServiceEntry targetPort shows here).
	EndpointPorts []uint32 `json:"endpointPorts,omitempty"`
	// DestinationRule is namespace/name of the DestinationRule that applies, from the cluster metadata.
	DestinationRule string `json:"destinationRule,omitempty"`
	// Addresses are the IP:ports the proxy's listeners send to this cluster: the ServiceEntry's
	// addresses. They are how a host registered by IP is found again.
	Addresses []string `json:"addresses,omitempty"`
	// Limits are the connection pool and outlier detection the cluster carries (a
	// DestinationRule's trafficPolicy, as istiod renders it); nil when the config did not say.
	Limits *ClusterLimits `json:"limits,omitempty"`
	// Waypoint, in an ambient pod's report, names the waypoint (NAMESPACE/NAME) this cluster is
	// on: the pod's traffic to the host goes through it.
	Waypoint string   `json:"waypoint,omitempty"`
	Pods     []string `json:"pods"`
}

// OriginatesTLS tells a cluster whose upstream TLS a DestinationRule set (SIMPLE or MUTUAL),
// not Istio's own mTLS.
func (c Cluster) OriginatesTLS() bool { return c.TLS == "SIMPLE" || c.TLS == "MUTUAL" }

// ClusterLimits are a cluster's connection settings, in Envoy's terms. Istio writes its own
// defaults when a DestinationRule sets nothing (a 10 s connect timeout, circuit breakers at the
// 32-bit maximum); zero is "not set".
type ClusterLimits struct {
	ConnectTimeout           string `json:"connectTimeout,omitempty"`
	MaxConnections           uint32 `json:"maxConnections,omitempty"`
	MaxPendingRequests       uint32 `json:"maxPendingRequests,omitempty"`
	MaxRequests              uint32 `json:"maxRequests,omitempty"`
	MaxRequestsPerConnection uint32 `json:"maxRequestsPerConnection,omitempty"`
	IdleTimeout              string `json:"idleTimeout,omitempty"`
	// Outlier detection: consecutive 5xx and gateway errors before an ejection, how often hosts
	// are checked, how long an ejection lasts, and how many hosts may be ejected at once.
	Consecutive5xx           uint32 `json:"consecutive5xx,omitempty"`
	ConsecutiveGatewayErrors uint32 `json:"consecutiveGatewayErrors,omitempty"`
	OutlierInterval          string `json:"outlierInterval,omitempty"`
	BaseEjectionTime         string `json:"baseEjectionTime,omitempty"`
	MaxEjectionPercent       uint32 `json:"maxEjectionPercent,omitempty"`
}

// Endpoint is one host of one cluster.
type Endpoint struct {
	Cluster string `json:"cluster"`
	Address string `json:"address"`
	// Health is HEALTHY, UNHEALTHY, DRAINING, TIMEOUT, DEGRADED or UNKNOWN.
	Health string `json:"health"`
	// Source is "clusters" (the live /clusters hosts), "eds" (the dump's EDS endpoint configs, what
	// istioctl proxy-config eds lists) or "config" (a cluster's inline load assignment).
	Source string   `json:"source"`
	Pods   []string `json:"pods"`
}

// Endpoint sources.
const (
	EndpointSourceClusters = "clusters"
	EndpointSourceEDS      = "eds"
	EndpointSourceConfig   = "config"
)

// Outbound modes, as meshConfig.outboundTrafficPolicy spells them.
const (
	ModeAllowAny           = "ALLOW_ANY"
	ModeRegistryOnly       = "REGISTRY_ONLY"
	ModeAllowAnyDynamicDNS = "ALLOW_ANY_DYNAMIC_DNS"
)

// Access-logging states.
const (
	AccessLoggingOn      = "on"
	AccessLoggingOff     = "off"
	AccessLoggingUnknown = "unknown"
)

// The proxy types of Istio's node ids: a pod's sidecar, and a gateway (waypoints are "waypoint");
// and ztunnel, which carries an ambient pod's traffic.
const (
	ProxySidecar = "sidecar"
	ProxyRouter  = "router"
	ProxyZtunnel = "ztunnel"
)

// PodFacts are what the report knows about one pod's proxy.
type PodFacts struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Workload  string `json:"workload,omitempty"`
	// IstioVersion is the node metadata ISTIO_VERSION, from server_info or the bootstrap.
	IstioVersion string `json:"istioVersion,omitempty"`
	EnvoyVersion string `json:"envoyVersion,omitempty"`
	// ProxyType is the type in the proxy's Istio node id: "sidecar", "router" for a gateway,
	// "waypoint"; "" when no node was read.
	ProxyType string `json:"proxyType,omitempty"`
	// Dataplane is what carries the pod's traffic: "sidecar", "ambient" (its node's ztunnel),
	// "ambient+waypoint" (and a waypoint for some of it); "" for a gateway or waypoint pod.
	Dataplane string `json:"dataplane,omitempty"`
	// Ztunnel is the ztunnel pod (namespace/name) read for an ambient pod.
	Ztunnel string `json:"ztunnel,omitempty"`
	// DNSCapture is "on" when the sidecar answers the pod's DNS queries (node metadata
	// DNS_CAPTURE), "off" when server_info was read without it, "" when not read.
	DNSCapture string `json:"dnsCapture,omitempty"`
	// OutboundMode is the effective mode from the proxy's own virtualOutbound listener
	// (ALLOW_ANY, REGISTRY_ONLY, ALLOW_ANY_DYNAMIC_DNS), or "" when listeners were not read.
	OutboundMode string `json:"outboundMode"`
	// OutboundModeSource says what OutboundMode was read from.
	OutboundModeSource string `json:"outboundModeSource,omitempty"`
	// AccessLogging is on, off or unknown.
	AccessLogging       string `json:"accessLogging"`
	AccessLoggingReason string `json:"accessLoggingReason,omitempty"`
	// EnableAccessLogging is a Telemetry resource (YAML) that turns access logging on for the
	// pod's namespace; set when AccessLogging is off.
	EnableAccessLogging string          `json:"enableAccessLogging,omitempty"`
	AccessLog           AccessLogCounts `json:"accessLog"`
	// CaptureExclusions are the pod's traffic.sidecar.istio.io annotations.
	CaptureExclusions []Bypass `json:"captureExclusions,omitempty"`
	// ClusterStats are Envoy's PassthroughCluster/BlackHoleCluster counters when the proxy exposes them.
	ClusterStats map[string]Counts `json:"clusterStats,omitempty"`
	// ConfigRead is "traffic" when only the configuration the pod's traffic used was read (--config-scope
	// traffic, or auto on a proxy of more than 1000 clusters): Destinations then leave out the
	// registered hosts it did not call, and Clusters the clusters it did not use. Empty: read whole.
	ConfigRead ConfigScope `json:"configRead,omitempty"`
	// ActiveClusters is how many clusters the proxy holds (its cluster_manager.active_clusters), set
	// with ConfigRead.
	ActiveClusters int `json:"activeClusters,omitempty"`
	// BytesRead is what was read from the pod: admin responses and access log.
	BytesRead int64 `json:"bytesRead,omitempty"`
	// WaypointsUnread are the waypoints an ambient pod's hosts went through whose configuration
	// could not be read, with why (NAMESPACE/NAME: reason): those hosts stay egress-waypoint.
	WaypointsUnread []string `json:"waypointsUnread,omitempty"`
	Errors          []string `json:"errors,omitempty"`
}

// Key is the pod's namespace/name.
func (f PodFacts) Key() string { return Pod{Namespace: f.Namespace, Name: f.Name}.Key() }

// WithoutRequests is the report without request paths: hosts, ports, methods' counts and codes
// stay. What the commands print unless --show-paths is given.
func (r Report) WithoutRequests() Report {
	dests := make([]Destination, len(r.Destinations))
	for i, d := range r.Destinations {
		d.Requests = nil
		dests[i] = d
	}
	r.Destinations = dests
	return r
}
