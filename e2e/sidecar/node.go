package sidecar

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

const defaultIstioVersion = "1.31.1"

// nodeInfo is the proxy's identity as pilot-agent would put it in Envoy's bootstrap.
type nodeInfo struct {
	role          string // "sidecar" or "router"
	ip            string
	name          string
	namespace     string
	workload      string
	labels        map[string]string
	istioVersion  string
	clusterID     string
	canonicalName string
	canonicalRev  string
	// proxyMetadata are the ISTIO_META_* proxy metadata (pod annotation proxy.istio.io/config),
	// which pilot-agent puts in the node metadata without the prefix (DNS_CAPTURE).
	proxyMetadata map[string]string
}

func newNodeInfo(cfg Config) *nodeInfo {
	n := &nodeInfo{
		role:          "sidecar",
		ip:            cfg.IP,
		name:          cfg.Name,
		namespace:     cfg.Namespace,
		istioVersion:  cfg.IstioVersion,
		proxyMetadata: cfg.ProxyMetadata,
		clusterID:     "Kubernetes",
		labels:        map[string]string{},
	}
	if cfg.Router {
		n.role = "router"
	}
	if n.istioVersion == "" {
		n.istioVersion = defaultIstioVersion
	}
	for k, v := range cfg.Labels {
		n.labels[k] = v
	}
	n.workload = cfg.Workload
	if n.workload == "" {
		n.workload = firstNonEmpty(n.labels["app"], cfg.Name)
	}
	// The injector adds the canonical-service labels to every pod it injects.
	n.canonicalName = firstNonEmpty(n.labels["service.istio.io/canonical-name"], n.labels["app.kubernetes.io/name"], n.labels["app"], n.workload)
	n.canonicalRev = firstNonEmpty(n.labels["service.istio.io/canonical-revision"], n.labels["app.kubernetes.io/version"], n.labels["version"], "latest")
	n.labels["service.istio.io/canonical-name"] = n.canonicalName
	n.labels["service.istio.io/canonical-revision"] = n.canonicalRev
	return n
}

// proxyID is what istioctl and istiod's debug endpoints call the proxy: POD.NAMESPACE.
func (n *nodeInfo) proxyID() string { return n.name + "." + n.namespace }

func (n *nodeInfo) id() string {
	return fmt.Sprintf("%s~%s~%s.%s~%s.svc.cluster.local", n.role, n.ip, n.name, n.namespace, n.namespace)
}

// serviceCluster is node.cluster as pilot-agent computes it: canonical name and namespace.
func (n *nodeInfo) serviceCluster() string { return n.canonicalName + "." + n.namespace }

func (n *nodeInfo) metadata() *structpb.Struct {
	labels := map[string]any{}
	for k, v := range n.labels {
		labels[k] = v
	}
	m := map[string]any{
		"NAMESPACE":             n.namespace,
		"NAME":                  n.name,
		"CLUSTER_ID":            n.clusterID,
		"ISTIO_VERSION":         n.istioVersion,
		"INTERCEPTION_MODE":     "REDIRECT",
		"LABELS":                labels,
		"INSTANCE_IPS":          n.ip,
		"WORKLOAD_NAME":         n.workload,
		"OWNER":                 fmt.Sprintf("kubernetes://apis/v1/namespaces/%s/pods/%s", n.namespace, n.name),
		"SERVICE_ACCOUNT":       "default",
		"MESH_ID":               "cluster.local",
		"ENVOY_STATUS_PORT":     15021,
		"ENVOY_PROMETHEUS_PORT": 15090,
		"PILOT_SAN":             []any{"istiod.istio-system.svc"},
		"ISTIO_PROXY_SHA":       fakeSHA(n.istioVersion),
	}
	if n.role == "sidecar" {
		m["APP_CONTAINERS"] = n.workload
	}
	for k, v := range n.proxyMetadata {
		if meta, ok := strings.CutPrefix(k, "ISTIO_META_"); ok {
			m[meta] = v
		}
	}
	s, err := structpb.NewStruct(m)
	if err != nil {
		panic(err) // only static types above
	}
	return s
}

// envoyVersion is the Envoy release Istio ships with a given Istio minor (1.20 ↔ 1.28, ...).
func (n *nodeInfo) envoyVersion() (major, minor, patch uint32) {
	parts := strings.SplitN(n.istioVersion, ".", 3)
	m := 31
	if len(parts) >= 2 {
		if v, err := strconv.Atoi(parts[1]); err == nil {
			m = v
		}
	}
	return 1, uint32(m + 8), 0
}

func (n *nodeInfo) envoyVersionString() string {
	maj, min, patch := n.envoyVersion()
	return fmt.Sprintf("%s/%d.%d.%d-dev/Clean/RELEASE/BoringSSL", fakeSHA("envoy-"+n.istioVersion), maj, min, patch)
}

func (n *nodeInfo) envoyNode() *corev3.Node {
	maj, min, patch := n.envoyVersion()
	bv, _ := structpb.NewStruct(map[string]any{
		"revision.sha":    fakeSHA("envoy-" + n.istioVersion),
		"revision.status": "Clean",
		"build.type":      "RELEASE",
		"ssl.version":     "BoringSSL",
	})
	return &corev3.Node{
		Id:            n.id(),
		Cluster:       n.serviceCluster(),
		Metadata:      n.metadata(),
		Locality:      &corev3.Locality{},
		UserAgentName: "envoy",
		UserAgentVersionType: &corev3.Node_UserAgentBuildVersion{UserAgentBuildVersion: &corev3.BuildVersion{
			Version:  &typev3.SemanticVersion{MajorNumber: maj, MinorNumber: min, Patch: patch},
			Metadata: bv,
		}},
	}
}

// xdsNode is the node sent to istiod: identity and metadata, no build details.
func (n *nodeInfo) xdsNode() *corev3.Node {
	nd := n.envoyNode()
	nd.UserAgentVersionType = nil
	nd.UserAgentName = "envoy"
	return nd
}

// fakeSHA is a stable 40-hex string standing in for a build commit.
func fakeSHA(seed string) string {
	h := sha1.Sum([]byte(seed))
	return hex.EncodeToString(h[:])
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}
