package fixflow

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/kubectl-egress/kubectl-egress/inspect"
	"github.com/kubectl-egress/kubectl-egress/remedy"
)

func testPlan(t *testing.T) *remedy.Plan {
	t.Helper()
	p, err := PlanRequest(Request{Host: "HTTPBIN.org.", Fix: inspect.FixRegister, Ports: []remedy.Port{{Number: 443, Protocol: "TLS"}}},
		Inputs{Target: remedy.Target{Namespace: "shop"}})
	if err != nil {
		t.Fatal(err)
	}
	p.Warnings = []string{"a warning for the operator"}
	return p
}

// A getter whose kubeconfig does not exist: any step that reaches for the cluster fails with
// that, so a test passing with it proves the step needed no cluster.
func noCluster() genericclioptions.RESTClientGetter {
	f := genericclioptions.NewConfigFlags(false)
	path := "/nonexistent/kubeconfig"
	f.KubeConfig = &path
	return f
}

// Without a confirmer and without a dry run, Run refuses before anything is read or sent.
func TestRunRefusesWithoutConfirmer(t *testing.T) {
	var out, errOut bytes.Buffer
	f := New(noCluster(), Config{Namespace: "shop", Out: &out, ErrOut: &errOut})
	err := f.Run(context.Background(), []*remedy.Plan{testPlan(t)})
	if !errors.Is(err, ErrNoConfirmation) {
		t.Fatalf("Run: %v, want %v", err, ErrNoConfirmation)
	}
	if out.Len() != 0 || errOut.String() != "Warning: a warning for the operator\n" {
		t.Errorf("stdout %q, stderr %q", out.String(), errOut.String())
	}
}

// -o yaml writes the manifests to Out, the notes to ErrOut, and sends nothing.
func TestRunWriteYAML(t *testing.T) {
	var out, errOut bytes.Buffer
	f := New(noCluster(), Config{Namespace: "shop", WriteYAML: true, Out: &out, ErrOut: &errOut})
	p := testPlan(t)
	if err := f.Run(context.Background(), []*remedy.Plan{p, p}); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := remedy.WriteYAML(&want, p); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.String()+"---\n"+want.String(), out.String()); diff != "" {
		t.Errorf("-o yaml (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(errOut.String(), "Warning: a warning for the operator\n") || !strings.Contains(errOut.String(), "httpbin.org:443 is registered") {
		t.Errorf("stderr: %q", errOut.String())
	}
}

func TestPlanRequest(t *testing.T) {
	gw := &remedy.EgressGateway{Namespace: "istio-system", Name: "istio-egressgateway",
		Selector: map[string]string{"istio": "egressgateway"}, ServicePorts: []uint32{80, 443},
		PodLabels: []map[string]string{{"istio": "egressgateway"}}}
	target := remedy.Target{Namespace: "shop"}
	tests := []struct {
		name    string
		req     Request
		gateway *remedy.EgressGateway
		// objects are "Kind/name" in apply order; err is the refusal.
		objects []string
		err     string
	}{
		{"register from the observed ports", Request{Host: "httpbin.org", Fix: inspect.FixRegister}, nil,
			[]string{"ServiceEntry/egress-httpbin-org"}, ""},
		{"register a host never seen", Request{Host: "unseen.example.com", Fix: inspect.FixRegister}, nil, nil,
			"no traffic to unseen.example.com was seen from the pods of namespace shop: give its port and protocol, e.g. --port 443 --protocol TLS"},
		{"register an IP", Request{Host: "198.51.100.7", Fix: inspect.FixRegister}, nil,
			[]string{"ServiceEntry/egress-198-51-100-7"}, ""},
		{"TLS origination", Request{Host: "httpbin.org", Fix: inspect.FixTLSOrigination}, nil,
			[]string{"ServiceEntry/egress-httpbin-org", "DestinationRule/egress-httpbin-org"}, ""},
		{"gateway without one read", Request{Host: "httpbin.org", Fix: inspect.FixEgressGateway}, nil, nil,
			"no egress gateway read for httpbin.org"},
		{"gateway", Request{Host: "httpbin.org", Fix: inspect.FixEgressGateway}, gw,
			[]string{"ServiceEntry/egress-httpbin-org", "DestinationRule/egress-httpbin-org-gw", "Gateway/egress-httpbin-org", "VirtualService/egress-httpbin-org"}, ""},
		{"unknown fix", Request{Host: "httpbin.org", Fix: "magic"}, nil, nil,
			`unknown fix "magic" for httpbin.org: use register, tls-origination or egress-gateway`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := PlanRequest(tt.req, Inputs{Target: target, Observation: observed, Gateway: tt.gateway})
			if tt.err != "" || err != nil {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("PlanRequest error %v, want %q", err, tt.err)
				}
				return
			}
			us, err := p.Unstructured()
			if err != nil {
				t.Fatal(err)
			}
			var objs []string
			for _, u := range us {
				objs = append(objs, u.GetKind()+"/"+u.GetName())
			}
			if diff := cmp.Diff(tt.objects, objs); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
		})
	}
}

// Register with its ports given and the Istio version known reads no proxy; anything else does.
func TestNeedsObservation(t *testing.T) {
	v131 := remedy.IstioVersion{Major: 1, Minor: 31}
	ports := []remedy.Port{{Number: 443, Protocol: "TLS"}}
	for _, tt := range []struct {
		name  string
		istio remedy.IstioVersion
		reqs  []Request
		want  bool
	}{
		{"register, everything given", v131, []Request{{Host: "a.io", Fix: inspect.FixRegister, Ports: ports}}, false},
		{"register without the Istio version", remedy.IstioVersion{}, []Request{{Host: "a.io", Fix: inspect.FixRegister, Ports: ports}}, true},
		{"register without ports", v131, []Request{{Host: "a.io", Fix: inspect.FixRegister}}, true},
		{"TLS origination reads the app's ports", v131, []Request{{Host: "a.io", Fix: inspect.FixTLSOrigination}}, true},
	} {
		f := New(noCluster(), Config{IstioVersion: tt.istio})
		if got := f.needsObservation(tt.reqs); got != tt.want {
			t.Errorf("%s: needsObservation = %v, want %v", tt.name, got, tt.want)
		}
	}
}
