package plugin

import (
	"context"
	"fmt"
	"strings"

	"github.com/kubectl-egress/kubectl-egress/fixflow"
	"github.com/kubectl-egress/kubectl-egress/inspect"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// GatewayOptions is `kubectl egress route-via-gateway HOST`.
type GatewayOptions struct {
	configFlags *genericclioptions.ConfigFlags
	fixFlags

	Host string
	// Gateway is the egress gateway's Service, NAMESPACE/NAME.
	Gateway        string
	TLSOrigination bool
	Lock           bool
	CACert         string
	CredentialName string
	// API is --api: gateway (the Gateway API), istio (the classic egress gateway), or "" to
	// pick gateway when the cluster serves the Gateway API and has no classic egress gateway.
	API string

	genericiooptions.IOStreams
}

// NewGatewayOptions returns the defaults.
func NewGatewayOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *GatewayOptions {
	return &GatewayOptions{configFlags: configFlags, fixFlags: newFixFlags(), Gateway: fixflow.DefaultEgressGateway, IOStreams: streams}
}

// NewCmdGateway returns `kubectl egress route-via-gateway`.
func NewCmdGateway(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewGatewayOptions(configFlags, streams)
	cmd := &cobra.Command{
		Use:   "route-via-gateway HOST [--gateway NAMESPACE/NAME] [--tls-origination] [--api gateway|istio] [-n NAMESPACE]",
		Short: "Send the traffic to HOST out through the egress gateway",
		Long: `Route-via-gateway writes the istio.io egress-gateway recipe for HOST: a ServiceEntry, a Gateway on
the egress gateway's pods (443 TLS PASSTHROUGH), a DestinationRule for the gateway service with a
subset for HOST, and a VirtualService bound to the mesh and the gateway. The gateway's Service
must select running pods (istio#45854). With --tls-origination the app calls http://HOST, the
sidecar sends it to the gateway over mTLS and the gateway does TLS to HOST:443.

With --api gateway it writes the task's Gateway API form instead, in the namespace: a ServiceEntry,
a Gateway of class istio for which istiod deploys the gateway (Deployment and Service NAME-istio),
an HTTPRoute or TLSRoute from the sidecars to it, attached to the ServiceEntry, and one on the
Gateway out to HOST. That form is the default when the cluster serves the Gateway API and has no
classic egress gateway (the --gateway Service).`,
		Example: `  # Route httpbin.org through istio-system/istio-egressgateway, TLS passing through
  kubectl egress route-via-gateway httpbin.org -n demo

  # Another gateway, originating TLS there, with a timeout
  kubectl egress route-via-gateway httpbin.org --gateway egress/egress-gw --tls-origination --timeout 5s --yes

  # A Gateway API egress gateway that istiod deploys in the namespace
  kubectl egress route-via-gateway httpbin.org --api gateway -n demo`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(cmd, args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	o.addFlags(fs)
	fs.StringVar(&o.Gateway, "gateway", o.Gateway, "The egress gateway's Service, NAMESPACE/NAME")
	fs.BoolVar(&o.TLSOrigination, "tls-origination", o.TLSOrigination, "Originate TLS at the gateway: the app calls http://HOST")
	fs.BoolVar(&o.Lock, "lock", o.Lock, "Also write a NetworkPolicy: the namespace's pods leave the cluster only through the egress gateway (an egress gateway alone is no security boundary)")
	fs.StringVar(&o.CACert, "ca-cert", o.CACert, "With --tls-origination: CA bundle path in the gateway pods to verify HOST")
	fs.StringVar(&o.CredentialName, "credential-name", o.CredentialName, "With --tls-origination: Secret in the gateway's namespace holding the CA to verify HOST")
	fs.StringVar(&o.API, "api", o.API, "The egress gateway's API: gateway (a Gateway API Gateway istiod deploys) or istio (the classic egress gateway); "+
		"default gateway when the cluster serves the Gateway API and the --gateway Service does not exist, else istio")
	_ = cmd.RegisterFlagCompletionFunc("api", cobra.FixedCompletions([]string{string(fixflow.EgressAPIGateway), string(fixflow.EgressAPIIstio)}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// Complete takes the host and fills the namespace.
func (o *GatewayOptions) Complete(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		o.Host = args[0]
	}
	return o.complete(cmd, o.configFlags)
}

// Validate checks the host and flags.
func (o *GatewayOptions) Validate() error {
	if err := validateHost(o.Host); err != nil {
		return err
	}
	ns, name, ok := strings.Cut(o.Gateway, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return fmt.Errorf("invalid --gateway %q: want NAMESPACE/NAME of the gateway's Service, e.g. %s", o.Gateway, fixflow.DefaultEgressGateway)
	}
	if (o.CACert != "" || o.CredentialName != "") && !o.TLSOrigination {
		return fmt.Errorf("--ca-cert and --credential-name go with --tls-origination: in TLS passthrough the app verifies the server")
	}
	if o.CACert != "" && o.CredentialName != "" {
		return fmt.Errorf("--ca-cert and --credential-name do not go together: Istio takes one")
	}
	if (o.Timeout != 0 || o.RetriesSet) && !o.TLSOrigination {
		return fmt.Errorf("--timeout and --retries need --tls-origination: in TLS passthrough the gateway cannot read the requests")
	}
	api, err := fixflow.ParseEgressAPI(o.API)
	if err != nil {
		return err
	}
	if api == fixflow.EgressAPIGateway {
		switch {
		case o.TLSOrigination, o.Lock:
			return fmt.Errorf("--tls-origination and --lock are written for the classic egress gateway only: use --api istio")
		case o.Gateway != fixflow.DefaultEgressGateway:
			return fmt.Errorf("--gateway names a classic egress gateway's Service; with --api gateway istiod deploys a gateway for the host in the namespace: drop --gateway, or use --api istio")
		}
	}
	return o.validate()
}

// Run goes through the fix flow for the egress gateway routing.
func (o *GatewayOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	return fixflow.New(o.configFlags, o.config(o.IOStreams)).Fix(ctx, []fixflow.Request{{
		Host: o.Host, Fix: inspect.FixEgressGateway, Gateway: o.Gateway, GatewayTLSOrigination: o.TLSOrigination,
		CACertificates: o.CACert, CredentialName: o.CredentialName, Lock: o.Lock, EgressAPI: fixflow.EgressAPI(o.API),
	}})
}
