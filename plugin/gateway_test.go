package plugin

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func TestGatewayOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(o *GatewayOptions)
		want string
	}{
		{"defaults", func(*GatewayOptions) {}, ""},
		{"another gateway", func(o *GatewayOptions) { o.Gateway = "egress/egress-gw" }, ""},
		{"origination with timeout", func(o *GatewayOptions) { o.TLSOrigination, o.Timeout = true, 5*time.Second }, ""},
		{"gateway without namespace", func(o *GatewayOptions) { o.Gateway = "istio-egressgateway" }, `invalid --gateway "istio-egressgateway": want NAMESPACE/NAME of the gateway's Service, e.g. istio-system/istio-egressgateway`},
		{"gateway path", func(o *GatewayOptions) { o.Gateway = "a/b/c" }, `invalid --gateway "a/b/c": want NAMESPACE/NAME of the gateway's Service, e.g. istio-system/istio-egressgateway`},
		{"ca without origination", func(o *GatewayOptions) { o.CACert = "/etc/certs/ca.pem" }, "--ca-cert and --credential-name go with --tls-origination: in TLS passthrough the app verifies the server"},
		{"ca and credential", func(o *GatewayOptions) { o.TLSOrigination, o.CACert, o.CredentialName = true, "/ca.pem", "ca" }, "--ca-cert and --credential-name do not go together: Istio takes one"},
		{"timeout in passthrough", func(o *GatewayOptions) { o.Timeout = time.Second }, "--timeout and --retries need --tls-origination: in TLS passthrough the gateway cannot read the requests"},
		{"retries in passthrough", func(o *GatewayOptions) { o.RetriesSet = true }, "--timeout and --retries need --tls-origination: in TLS passthrough the gateway cannot read the requests"},
		{"no host", func(o *GatewayOptions) { o.Host = "" }, "no host given: name the external host, e.g. httpbin.org"},
		{"Gateway API", func(o *GatewayOptions) { o.API = "gateway" }, ""},
		{"classic", func(o *GatewayOptions) { o.API = "istio" }, ""},
		{"unknown API", func(o *GatewayOptions) { o.API = "gamma" }, `invalid --api "gamma": use gateway or istio`},
		{"Gateway API with origination", func(o *GatewayOptions) { o.API, o.TLSOrigination = "gateway", true },
			"--tls-origination and --lock are written for the classic egress gateway only: use --api istio"},
		{"Gateway API with --lock", func(o *GatewayOptions) { o.API, o.Lock = "gateway", true },
			"--tls-origination and --lock are written for the classic egress gateway only: use --api istio"},
		{"Gateway API with a classic gateway named", func(o *GatewayOptions) { o.API, o.Gateway = "gateway", "egress/egress-gw" },
			"--gateway names a classic egress gateway's Service; with --api gateway istiod deploys a gateway for the host in the namespace: drop --gateway, or use --api istio"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewGatewayOptions(genericclioptions.NewConfigFlags(false), genericiooptions.NewTestIOStreamsDiscard())
			o.Host = "httpbin.org"
			tt.edit(o)
			if diff := cmp.Diff(tt.want, errString(o.Validate())); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}
