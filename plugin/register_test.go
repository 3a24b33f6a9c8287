package plugin

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func TestRegisterOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(o *RegisterOptions)
		want string
	}{
		{"host only", func(*RegisterOptions) {}, ""},
		{"port and protocol", func(o *RegisterOptions) { o.Port, o.Protocol = 443, "tls" }, ""},
		{"port alone", func(o *RegisterOptions) { o.Port = 8443 }, ""},
		{"ip host", func(o *RegisterOptions) { o.Host = "198.51.100.7" }, ""},
		{"wildcard", func(o *RegisterOptions) { o.Host = "*.example.com" }, ""},
		{"no host", func(o *RegisterOptions) { o.Host = " " }, "no host given: name the external host, e.g. httpbin.org"},
		{"url", func(o *RegisterOptions) { o.Host = "https://httpbin.org:443/get" }, `host "https://httpbin.org:443/get" is a URL: give the host name only, e.g. httpbin.org`},
		{"host and port", func(o *RegisterOptions) { o.Host = "httpbin.org:443" }, `invalid host "httpbin.org:443": give a host name or an IP, without port or path (use --port)`},
		{"protocol without port", func(o *RegisterOptions) { o.Protocol = "TLS" }, "--protocol goes with --port: name the port it is for"},
		{"unknown protocol", func(o *RegisterOptions) { o.Port, o.Protocol = 443, "QUIC" }, `unknown protocol "QUIC": use HTTP, HTTPS, TLS, TCP`},
		{"port range", func(o *RegisterOptions) { o.Port = 70000 }, "--port must be a port number, not 70000"},
		{"cidr address", func(o *RegisterOptions) { o.Addresses = []string{"198.51.100.0/24", "198.51.100.7"} }, ""},
		{"bad address", func(o *RegisterOptions) { o.Addresses = []string{"api.example.com"} }, `invalid --address "api.example.com": give an IP or a CIDR`},
		{"shared flags", func(o *RegisterOptions) { o.DryRun = "all" }, `invalid dry-run value "all": must be "none", "server", or "client"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewRegisterOptions(genericclioptions.NewConfigFlags(false), genericiooptions.NewTestIOStreamsDiscard())
			o.Host = "httpbin.org"
			tt.edit(o)
			if diff := cmp.Diff(tt.want, errString(o.Validate())); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}
