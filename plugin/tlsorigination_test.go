package plugin

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func TestTLSOriginationOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(o *TLSOriginationOptions)
		want string
	}{
		{"host only", func(*TLSOriginationOptions) {}, ""},
		{"ca cert", func(o *TLSOriginationOptions) { o.CACert = "/etc/certs/ca.pem" }, ""},
		{"credential with selector", func(o *TLSOriginationOptions) { o.CredentialName, o.Selector = "httpbin-ca", "app=shop" }, ""},
		{"both", func(o *TLSOriginationOptions) { o.CACert, o.CredentialName = "/etc/certs/ca.pem", "httpbin-ca" }, "--ca-cert and --credential-name do not go together: Istio takes one"},
		{"credential without selector", func(o *TLSOriginationOptions) { o.CredentialName = "httpbin-ca" }, "--credential-name needs -l: sidecars read credentialName only from a DestinationRule with a workload selector"},
		{"set-based selector", func(o *TLSOriginationOptions) { o.Selector = "app in (shop)" }, `invalid selector "app in (shop)": give labels as key=value[,key=value]: invalid selector: [app in (shop)]`},
		{"url", func(o *TLSOriginationOptions) { o.Host = "http://httpbin.org" }, `host "http://httpbin.org" is a URL: give the host name only, e.g. httpbin.org`},
		{"timeout", func(o *TLSOriginationOptions) { o.Timeout = -1 }, "--timeout must not be negative, not -1ns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewTLSOriginationOptions(genericclioptions.NewConfigFlags(false), genericiooptions.NewTestIOStreamsDiscard())
			o.Host = "httpbin.org"
			tt.edit(o)
			if diff := cmp.Diff(tt.want, errString(o.Validate())); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}
