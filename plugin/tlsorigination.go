package plugin

import (
	"context"
	"fmt"
	"os"

	"github.com/kubectl-egress/kubectl-egress/fixflow"
	"github.com/kubectl-egress/kubectl-egress/inspect"
	"github.com/kubectl-egress/kubectl-egress/internal/warning"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// TLSOriginationOptions is `kubectl egress enable-tls-origination HOST`.
type TLSOriginationOptions struct {
	configFlags *genericclioptions.ConfigFlags
	fixFlags

	Host string
	// CACert is a CA bundle path inside the proxy (DestinationRule caCertificates).
	CACert string
	// CredentialName is a Secret holding the CA; sidecars read it only with a workload selector.
	CredentialName string
	// Selector is the app's pod labels, for the DestinationRule's workload selector.
	Selector string

	genericiooptions.IOStreams
}

// NewTLSOriginationOptions returns the defaults.
func NewTLSOriginationOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *TLSOriginationOptions {
	return &TLSOriginationOptions{configFlags: configFlags, fixFlags: newFixFlags(), IOStreams: streams}
}

// NewCmdTLSOrigination returns `kubectl egress enable-tls-origination`.
func NewCmdTLSOrigination(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewTLSOriginationOptions(configFlags, streams)
	cmd := &cobra.Command{
		Use:   "enable-tls-origination HOST [--ca-cert FILE | --credential-name NAME] [-n NAMESPACE]",
		Short: "Make the sidecar do TLS to HOST, so it sees every request (L7 metrics, retries, timeouts)",
		Long: `Enable-tls-origination writes a ServiceEntry for HOST (port 80 HTTP with targetPort 443, and
443 HTTPS) and a DestinationRule with TLS SIMPLE on port 80 and SNI HOST: the app calls
http://HOST and its sidecar sends TLS to HOST:443. The app owner must change the calls from
https:// to http://; the pods that call https://HOST today are listed. --ca-cert (a path in the
proxy) or --credential-name (a Secret, with -l) make the sidecar verify the server.`,
		Example: `  # Originate TLS to httpbin.org for the pods of demo
  kubectl egress enable-tls-origination httpbin.org -n demo

  # Verify the server against a CA bundle mounted in the proxies
  kubectl egress enable-tls-origination httpbin.org --ca-cert /etc/certs/httpbin-ca.pem --yes

  # Write the ServiceEntry and DestinationRule for GitOps
  kubectl egress enable-tls-origination httpbin.org -o yaml`,
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
	fs.StringVar(&o.CACert, "ca-cert", o.CACert, "CA bundle path inside the proxies to verify HOST's certificate (caCertificates)")
	fs.StringVar(&o.CredentialName, "credential-name", o.CredentialName, "Secret holding the CA (key cacert) to verify HOST's certificate; needs -l")
	fs.StringVarP(&o.Selector, "selector", "l", o.Selector, "Pod labels of the app, limiting the DestinationRule to its pods (e.g. app=shop)")
	return cmd
}

// Complete takes the host and fills the namespace.
func (o *TLSOriginationOptions) Complete(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		o.Host = args[0]
	}
	return o.complete(cmd, o.configFlags)
}

// Validate checks the host and flags.
func (o *TLSOriginationOptions) Validate() error {
	if err := validateHost(o.Host); err != nil {
		return err
	}
	if o.CACert != "" && o.CredentialName != "" {
		return fmt.Errorf("--ca-cert and --credential-name do not go together: Istio takes one")
	}
	if o.Selector != "" {
		if _, err := selectorLabels(o.Selector); err != nil {
			return err
		}
	}
	if o.CredentialName != "" && o.Selector == "" {
		return fmt.Errorf("--credential-name needs -l: sidecars read credentialName only from a DestinationRule with a workload selector")
	}
	return o.validate()
}

// Run goes through the fix flow for the ServiceEntry and DestinationRule.
func (o *TLSOriginationOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.CACert != "" {
		if _, err := os.Stat(o.CACert); err == nil {
			warning.Printf(o.ErrOut, "--ca-cert %s is read by the proxies, from their own file system, not from this machine", o.CACert)
		}
	}
	sel, _ := selectorLabels(o.Selector)
	return fixflow.New(o.configFlags, o.config(o.IOStreams)).Fix(ctx, []fixflow.Request{{
		Host: o.Host, Fix: inspect.FixTLSOrigination,
		CACertificates: o.CACert, CredentialName: o.CredentialName, WorkloadSelector: sel,
	}})
}

// selectorLabels reads an equality selector (app=shop,tier=web) as the labels a workload
// selector matches; set-based selectors cannot be one.
func selectorLabels(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	m, err := labels.ConvertSelectorToLabelsMap(s)
	if err != nil {
		return nil, fmt.Errorf("invalid selector %q: give labels as key=value[,key=value]: %v", s, err)
	}
	return m, nil
}
