package plugin

import (
	"testing"
	"time"

	"github.com/kubectl-egress/kubectl-egress/inspect"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-egress/kubectl-egress/remedy"
)

func TestListOptionsValidate(t *testing.T) {
	for output, want := range map[string]string{
		"": "", "json": "", "yaml": "",
		"wide": `unknown output format "wide": use json or yaml`,
	} {
		o := NewListOptions(genericclioptions.NewConfigFlags(false), genericiooptions.NewTestIOStreamsDiscard())
		o.Output = output
		if diff := cmp.Diff(want, errString(o.Validate())); diff != "" {
			t.Errorf("-o %q (-want +got):\n%s", output, diff)
		}
	}
}

func TestListPrint(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	objs := []remedy.ManagedObject{
		{Kind: "ServiceEntry", Namespace: "shop", Name: "egress-httpbin-org", Host: "httpbin.org", Fix: inspect.FixTLSOrigination, Created: metav1.NewTime(now.Add(-2 * time.Hour))},
		{Kind: "DestinationRule", Namespace: "shop", Name: "egress-httpbin-org", Host: "httpbin.org", Fix: inspect.FixTLSOrigination, Created: metav1.NewTime(now.Add(-2 * time.Hour))},
		{Kind: "ServiceEntry", Namespace: "web", Name: "egress-api-github-com", Fix: inspect.FixRegister},
	}
	tests := []struct {
		name string
		all  bool
		out  string
		want string
	}{
		{"namespace", false, "", `HOST          FIX               OBJECT                                                   AGE
httpbin.org   tls-origination   serviceentry.networking.istio.io/egress-httpbin-org      120m
httpbin.org   tls-origination   destinationrule.networking.istio.io/egress-httpbin-org   120m
-             register          serviceentry.networking.istio.io/egress-api-github-com   <unknown>
`},
		{"all namespaces", true, "", `NAMESPACE   HOST          FIX               OBJECT                                                   AGE
shop        httpbin.org   tls-origination   serviceentry.networking.istio.io/egress-httpbin-org      120m
shop        httpbin.org   tls-origination   destinationrule.networking.istio.io/egress-httpbin-org   120m
web         -             register          serviceentry.networking.istio.io/egress-api-github-com   <unknown>
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			streams, _, out, _ := genericiooptions.NewTestIOStreams()
			o := NewListOptions(genericclioptions.NewConfigFlags(false), streams)
			o.AllNamespaces, o.Output, o.now = tt.all, tt.out, func() time.Time { return now }
			if err := o.print(objs); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, out.String()); diff != "" {
				t.Errorf("table (-want +got):\n%s", diff)
			}
		})
	}
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	o := NewListOptions(genericclioptions.NewConfigFlags(false), streams)
	o.Namespace = "shop"
	if err := o.print(nil); err != nil || out.Len() != 0 || errOut.String() != "No objects managed by kubectl-egress found in namespace shop.\n" {
		t.Errorf("empty list: %v, stdout %q, stderr %q", err, out, errOut)
	}
	o.Output = "json"
	if err := o.print(nil); err != nil || out.String() != "{\n  \"items\": []\n}\n" {
		t.Errorf("empty list as JSON: %v, %q", err, out)
	}
}
