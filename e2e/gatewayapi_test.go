//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-egress/kubectl-egress/e2e/mesh"
	"github.com/kubectl-egress/kubectl-egress/e2e/sidecar"
	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// gatewayAPIKinds are the kinds route-via-gateway --api gateway writes, for kubectl get.
const gatewayAPIKinds = "serviceentries.networking.istio.io,gateways.gateway.networking.k8s.io,httproutes.gateway.networking.k8s.io,tlsroutes.gateway.networking.k8s.io"

// route-via-gateway --api gateway for demo-passthrough's plain-HTTP host and a TLS host: the API
// server accepts the Gateway API objects, istiod deploys a gateway per Gateway (its pod gets a
// router stand-in) and pushes the routes, the app's calls go to the gateway's Service cluster
// and the gateway's own proxy sends them out; verify passes; undo removes every object, and the
// garbage collector the gateway istiod deployed for it.
func TestGatewayAPIEgress(t *testing.T) {
	const ns = "gatewayapi"
	_, sc := startApp(t, ns, "app", "", []sidecar.Call{
		{Host: "edition.cnn.com", IP: "203.0.113.20", Port: 80, Scheme: "http", Path: "/politics", Count: 2},
		{Host: "www.wikipedia.org", IP: "203.0.113.64", Port: 443, Scheme: "https", Count: 2},
	})
	dispositionAfterReplay(t, ns, sc, "edition.cnn.com", 80, inspect.DispositionPassthrough)
	dispositionAfterReplay(t, ns, sc, "www.wikipedia.org", 443, inspect.DispositionPassthrough)

	hosts := []struct {
		host, gateway, route string
		port                 uint32
		out                  sidecar.Call // a call as the gateway receives it
	}{
		{"edition.cnn.com", "egress-edition-cnn-com", "httproute", 80,
			sidecar.Call{Host: "edition.cnn.com", IP: "203.0.113.20", Port: 80, Scheme: "http", Path: "/politics", Count: 1}},
		{"www.wikipedia.org", "egress-www-wikipedia-org", "tlsroute", 443,
			sidecar.Call{Host: "www.wikipedia.org", IP: "203.0.113.64", Port: 443, Scheme: "https", Count: 1}},
	}
	for _, h := range hosts {
		out, _ := mustEgress(t, "route-via-gateway", h.host, "--api", "gateway", "-n", ns, "--yes")
		wantLines(t, "route-via-gateway "+h.host, out,
			"serviceentry.networking.istio.io/"+h.gateway+" created",
			"gateway.gateway.networking.k8s.io/"+h.gateway+" created",
			h.route+".gateway.networking.k8s.io/"+h.gateway+" created",
			h.route+".gateway.networking.k8s.io/"+h.gateway+"-gw created")
	}
	for _, h := range hosts {
		dispositionAfterReplay(t, ns, sc, h.host, h.port, inspect.DispositionEgressGateway)
	}
	r := inspectJSON(t, "deploy/app", "-n", ns, "--since", "2s")
	for _, h := range hosts {
		want := fmt.Sprintf("outbound|%d||%s-istio.%s.svc.cluster.local", h.port, h.gateway, ns) // istiod names the Service NAME-istio
		if d := destination(r, h.host, h.port); d == nil || d.Cluster != want {
			t.Errorf("%s:%d on the app's sidecar: %+v, want cluster %s", h.host, h.port, d, want)
		}
	}

	// The gateway's own proxy: the call it receives for the host leaves by the host's cluster.
	for _, h := range hosts {
		_, gw := standIn(t, ns, mesh.GatewayNameLabel+"="+h.gateway) // the pod istiod deployed for the Gateway
		gw.SetCalls([]sidecar.Call{h.out})
		want := fmt.Sprintf("outbound|%d||%s", h.port, h.host)
		eventually(t, 30*time.Second, "the gateway "+h.gateway+" sends "+h.host+" out", func() error {
			if err := gw.Replay(context.Background()); err != nil {
				return err
			}
			d := destination(inspectJSON(t, "-n", ns, "-l", mesh.GatewayNameLabel+"="+h.gateway, "--since", "2s"), h.host, h.port)
			if d == nil || d.Cluster != want || d.Disposition != inspect.DispositionRegistered {
				return fmt.Errorf("seen %+v, want %s through %s", d, inspect.DispositionRegistered, want)
			}
			return nil
		})
	}

	// The gateways now carry the host's calls too, in the app's namespace: verify checks the
	// app's sidecar, not them.
	for _, h := range hosts {
		out, stderr, code := egress(t, "verify", h.host, "-n", ns, "--wait", "1m")
		if code != 0 {
			t.Errorf("verify %s: exit %d\n%s%s", h.host, code, out, stderr)
		}
		if !hasLine(out, `^gatewayapi/app-\S+ .* pass$`) || strings.Contains(out, "-istio-") {
			t.Errorf("verify %s checked other pods than the app's:\n%s", h.host, out)
		}
	}

	out, _ := mustEgress(t, "undo", "--all", "-n", ns, "--yes")
	if n := strings.Count(out, " deleted\n"); n != 8 {
		t.Errorf("undo --all deleted %d objects, want 8:\n%s", n, out)
	}
	if left := strings.TrimSpace(kubectl(t, "", "get", gatewayAPIKinds, "-n", ns, "-o", "name")); left != "" {
		t.Errorf("left after undo:\n%s", left)
	}
	eventually(t, 60*time.Second, "the gateways istiod deployed are collected", func() error {
		left := strings.TrimSpace(kubectl(t, "", "get", "deployments,services,pods", "-n", ns, "-l", mesh.GatewayNameLabel, "-o", "name"))
		if left != "" {
			return fmt.Errorf("left: %s", strings.ReplaceAll(left, "\n", " "))
		}
		return nil
	})
	dispositionAfterReplay(t, ns, sc, "edition.cnn.com", 80, inspect.DispositionPassthrough)
	dispositionAfterReplay(t, ns, sc, "www.wikipedia.org", 443, inspect.DispositionPassthrough)
}

// Without --api: the classic form while the --gateway Service exists (the mesh's
// istio-system/istio-egressgateway), the Gateway API form when it does not; the API server
// accepts the objects of both (a server-side dry run).
func TestGatewayAPIAuto(t *testing.T) {
	const ns = "gatewayapi-auto"
	startApp(t, ns, "app", "", []sidecar.Call{{Host: "edition.cnn.com", IP: "203.0.113.20", Port: 80, Scheme: "http", Count: 1}})
	for _, c := range []struct {
		name    string
		args    []string
		gateway string // the apiVersion of the Gateway written
	}{
		{"classic egress gateway exists", nil, "networking.istio.io/v1"},
		{"no classic egress gateway", []string{"--gateway", "istio-system/absent"}, "gateway.networking.k8s.io/v1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"route-via-gateway", "edition.cnn.com", "-n", ns, "--dry-run=server", "--yes"}, c.args...)
			mustEgress(t, args...)
			out, _ := mustEgress(t, append(args, "-o", "yaml")...)
			if !hasLine(out, `^apiVersion: `+strings.ReplaceAll(c.gateway, ".", `\.`)+`\nkind: Gateway$`) {
				t.Errorf("no Gateway of %s in:\n%s", c.gateway, out)
			}
		})
	}
	if left := managedIn(t, ns); left != "" {
		t.Errorf("a dry run wrote:\n%s", left)
	}
}

// destination is the report's row for host:port, or nil.
func destination(r inspect.Report, host string, port uint32) *inspect.Destination {
	for i := range r.Destinations {
		if r.Destinations[i].Host == host && r.Destinations[i].Port == port {
			return &r.Destinations[i]
		}
	}
	return nil
}
