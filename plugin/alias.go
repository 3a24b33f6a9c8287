package plugin

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-egress/kubectl-egress/fixflow"
	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// AliasOptions is `kubectl egress alias SHORT LONG`.
type AliasOptions struct {
	configFlags *genericclioptions.ConfigFlags
	fixFlags

	Short, Long      string
	Port, TargetPort int
	CACert           string
	CredentialName   string

	genericiooptions.IOStreams
}

// NewCmdAlias returns `kubectl egress alias`.
func NewCmdAlias(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &AliasOptions{configFlags: configFlags, fixFlags: newFixFlags(), Port: 80, TargetPort: 443, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "alias SHORT LONG [-n NAMESPACE]",
		Short: "Give a long external host a short name the app calls over plain HTTP",
		Long: `Alias lets the app call http://SHORT for the external host LONG: a ServiceEntry for SHORT whose
endpoint is LONG on its TLS port, a DestinationRule that originates TLS with SNI LONG, and a
VirtualService that rewrites the authority to LONG, so LONG sees its own name in the handshake
and in the Host header. The pods' sidecars must capture DNS (ISTIO_META_DNS_CAPTURE) to resolve
SHORT, which only the mesh knows; the proxies observed are checked and the way to turn it on is
printed when they do not. See docs/alias.md for what an alias can and cannot do.`,
		Example: `  # http://bin in the pods of demo reaches https://httpbin.org
  kubectl egress alias bin httpbin.org -n demo

  # Verify the server against a CA bundle in the proxies
  kubectl egress alias api api.payments.example.com --ca-cert /etc/certs/payments-ca.pem --yes`,
		Args: cobra.ExactArgs(2),
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
	fs.IntVar(&o.Port, "port", o.Port, "Plain HTTP port the app calls SHORT on")
	fs.IntVar(&o.TargetPort, "target-port", o.TargetPort, "TLS port of LONG")
	fs.StringVar(&o.CACert, "ca-cert", o.CACert, "CA bundle path inside the proxies to verify LONG's certificate (caCertificates)")
	fs.StringVar(&o.CredentialName, "credential-name", o.CredentialName, "Secret holding the CA to verify LONG's certificate")
	return cmd
}

// Complete takes the names and the namespace.
func (o *AliasOptions) Complete(cmd *cobra.Command, args []string) error {
	o.Short, o.Long = args[0], args[1]
	return o.complete(cmd, o.configFlags)
}

// Validate checks the names and flags.
func (o *AliasOptions) Validate() error {
	for _, h := range []string{o.Short, o.Long} {
		if err := validateHost(h); err != nil {
			return err
		}
	}
	if o.Port < 1 || o.Port > 65535 || o.TargetPort < 1 || o.TargetPort > 65535 {
		return fmt.Errorf("--port and --target-port must be port numbers")
	}
	if o.CACert != "" && o.CredentialName != "" {
		return fmt.Errorf("--ca-cert and --credential-name do not go together: Istio takes one")
	}
	return o.validate()
}

// Run goes through the fix flow for the alias.
func (o *AliasOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	return fixflow.New(o.configFlags, o.config(o.IOStreams)).Fix(ctx, []fixflow.Request{{
		Host: o.Short, Fix: inspect.FixAlias, AliasOf: o.Long, Port: uint32(o.Port), TargetPort: uint32(o.TargetPort),
		CACertificates: o.CACert, CredentialName: o.CredentialName,
	}})
}
