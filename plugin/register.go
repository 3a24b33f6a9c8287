package plugin

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/kubectl-egress/kubectl-egress/fixflow"
	"github.com/kubectl-egress/kubectl-egress/inspect"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-egress/kubectl-egress/remedy"
)

// registerProtocols are the protocols --protocol takes.
var registerProtocols = []string{"HTTP", "HTTPS", "TLS", "TCP"}

// RegisterOptions is `kubectl egress register HOST`.
type RegisterOptions struct {
	configFlags *genericclioptions.ConfigFlags
	fixFlags

	Host      string
	Port      int
	Protocol  string
	Addresses []string

	genericiooptions.IOStreams
}

// NewRegisterOptions returns the defaults.
func NewRegisterOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *RegisterOptions {
	return &RegisterOptions{configFlags: configFlags, fixFlags: newFixFlags(), IOStreams: streams}
}

// NewCmdRegister returns `kubectl egress register`.
func NewCmdRegister(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewRegisterOptions(configFlags, streams)
	cmd := &cobra.Command{
		Use:   "register HOST [--port N --protocol TLS|HTTPS|HTTP|TCP] [-n NAMESPACE]",
		Short: "Register an external host with a ServiceEntry, so its traffic leaves PassthroughCluster",
		Long: `Register writes a ServiceEntry (location MESH_EXTERNAL, resolution DNS) for HOST in the namespace,
so the sidecars of its pods give HOST its own cluster instead of PassthroughCluster, or
BlackHoleCluster under REGISTRY_ONLY. Without --port, the ports and protocols are those the
namespace's proxies were seen using. The app keeps calling HOST as it does.`,
		Example: `  # Register httpbin.org with the ports the pods of demo were seen using
  kubectl egress register httpbin.org -n demo

  # Register one port and protocol, without asking
  kubectl egress register api.github.com --port 443 --protocol TLS --yes

  # Write the ServiceEntry for GitOps and apply nothing
  kubectl egress register httpbin.org --port 443 --protocol TLS -o yaml`,
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
	fs.IntVar(&o.Port, "port", o.Port, "Port of the host (default: the ports the pods were seen using)")
	fs.StringVar(&o.Protocol, "protocol", o.Protocol, "Protocol of --port: TLS, HTTPS, HTTP or TCP (default: as seen, else 80 HTTP, 443 TLS, TCP)")
	fs.StringSliceVar(&o.Addresses, "address", o.Addresses, "IPs or CIDRs of the host, to tell its TCP traffic apart (IST0134)")
	return cmd
}

// Complete takes the host and fills the namespace.
func (o *RegisterOptions) Complete(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		o.Host = args[0]
	}
	return o.complete(cmd, o.configFlags)
}

// Validate checks the host and flags.
func (o *RegisterOptions) Validate() error {
	if err := validateHost(o.Host); err != nil {
		return err
	}
	if o.Port < 0 || o.Port > 65535 {
		return fmt.Errorf("--port must be a port number, not %d", o.Port)
	}
	if o.Protocol != "" {
		if o.Port == 0 {
			return fmt.Errorf("--protocol goes with --port: name the port it is for")
		}
		if !containsFold(registerProtocols, o.Protocol) {
			return fmt.Errorf("unknown protocol %q: use %s", o.Protocol, strings.Join(registerProtocols, ", "))
		}
	}
	for _, a := range o.Addresses {
		if net.ParseIP(a) == nil {
			if _, _, err := net.ParseCIDR(a); err != nil {
				return fmt.Errorf("invalid --address %q: give an IP or a CIDR", a)
			}
		}
	}
	return o.validate()
}

// Run goes through the fix flow for one ServiceEntry. With --port but no --protocol, the
// protocol is what the namespace's proxies were seen using on that port.
func (o *RegisterOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	flow := fixflow.New(o.configFlags, o.config(o.IOStreams))
	req := fixflow.Request{Host: o.Host, Fix: inspect.FixRegister, Addresses: o.Addresses}
	if o.Port != 0 {
		proto := strings.ToUpper(o.Protocol)
		if proto == "" {
			proto = flow.Observe(ctx).Protocol(req.NormalizedHost(), uint32(o.Port))
		}
		req.Ports = []remedy.Port{{Number: uint32(o.Port), Protocol: proto}}
	}
	return flow.Fix(ctx, []fixflow.Request{req})
}

// validateHost refuses what cannot be an external host: empty, a URL, a host:port.
func validateHost(host string) error {
	switch {
	case strings.TrimSpace(host) == "":
		return fmt.Errorf("no host given: name the external host, e.g. httpbin.org")
	case strings.Contains(host, "://"):
		return fmt.Errorf("host %q is a URL: give the host name only, e.g. %s", host, hostOfURL(host))
	case strings.ContainsAny(host, "/ ") || strings.Count(host, ":") == 1:
		return fmt.Errorf("invalid host %q: give a host name or an IP, without port or path (use --port)", host)
	}
	return nil
}

func hostOfURL(u string) string {
	_, rest, _ := strings.Cut(u, "://")
	rest, _, _ = strings.Cut(rest, "/")
	if h, _, err := net.SplitHostPort(rest); err == nil {
		return h
	}
	return rest
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
