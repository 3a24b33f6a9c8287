package inspect

import (
	"bytes"
	"fmt"
	"strings"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// ServerInfo is what the report takes from /server_info.
type ServerInfo struct {
	// EnvoyVersion is the release, e.g. "1.36.2".
	EnvoyVersion string
	// IstioVersion is the node metadata ISTIO_VERSION, e.g. "1.28.0".
	IstioVersion string
	// State is LIVE, DRAINING, PRE_INITIALIZING or INITIALIZING.
	State string
	// DNSCapture is the node metadata DNS_CAPTURE: "true" when the sidecar answers the pod's
	// DNS queries (needed to resolve ServiceEntry hosts that exist only in the mesh).
	DNSCapture string
	// ProxyType is the first field of the node id Istio gives the proxy (TYPE~IP~POD.NS~DOMAIN):
	// "sidecar", or "router" for a gateway.
	ProxyType string
}

// ParseServerInfo parses /server_info JSON.
func ParseServerInfo(b []byte) (ServerInfo, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return ServerInfo{}, nil
	}
	var si adminv3.ServerInfo
	if err := unmarshalAdminJSON(b, &si); err != nil {
		return ServerInfo{}, fmt.Errorf("failed to decode server_info: %w", err)
	}
	return serverInfoOf(&si), nil
}

// serverInfoOf reads decoded /server_info.
func serverInfoOf(si *adminv3.ServerInfo) ServerInfo {
	info := ServerInfo{EnvoyVersion: envoyRelease(si.GetVersion()), State: si.GetState().String()}
	if info.EnvoyVersion == "" {
		info.EnvoyVersion = nodeEnvoyVersion(si.GetNode())
	}
	info.IstioVersion = nodeIstioVersion(si.GetNode())
	info.DNSCapture = nodeDNSCapture(si.GetNode())
	info.ProxyType = nodeProxyType(si.GetNode())
	return info
}

// envoyRelease takes "SHA/1.36.2/Clean/RELEASE/BoringSSL" to "1.36.2".
func envoyRelease(v string) string {
	parts := strings.Split(v, "/")
	if len(parts) >= 2 {
		return parts[1]
	}
	return ""
}

func nodeEnvoyVersion(n *corev3.Node) string {
	if bv := n.GetUserAgentBuildVersion(); bv != nil && bv.GetVersion() != nil {
		v := bv.GetVersion()
		return fmt.Sprintf("%d.%d.%d", v.GetMajorNumber(), v.GetMinorNumber(), v.GetPatch())
	}
	return ""
}

// nodeDNSCapture is the node metadata DNS_CAPTURE ("true" when pilot-agent answers the pod's
// DNS queries: ISTIO_META_DNS_CAPTURE), "" when the metadata does not say.
func nodeDNSCapture(n *corev3.Node) string {
	return n.GetMetadata().GetFields()["DNS_CAPTURE"].GetStringValue()
}

// nodeProxyType is the type an Istio node id starts with ("sidecar~10.0.0.1~web-0.shop~…"),
// "" when the id is not Istio's.
func nodeProxyType(n *corev3.Node) string {
	typ, _, ok := strings.Cut(n.GetId(), "~")
	if !ok {
		return ""
	}
	return typ
}

func nodeIstioVersion(n *corev3.Node) string {
	return n.GetMetadata().GetFields()["ISTIO_VERSION"].GetStringValue()
}
