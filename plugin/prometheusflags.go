package plugin

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"

	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// prometheusFlags say where the Prometheus of Prometheus mode is and how to authenticate to it.
type prometheusFlags struct {
	URL string
	// Service is NAMESPACE/NAME:PORT, reached through the API server's service proxy.
	Service   string
	Token     string
	TokenFile string
	CAFile    string
	Insecure  bool
	// ThenForward reads, through port-forwards, the pods whose traffic Prometheus cannot name.
	ThenForward bool
}

func (p *prometheusFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&p.URL, "prometheus", p.URL, "Answer from this Prometheus (http[s]://HOST:PORT[/PATH]) instead of forwarding to pods")
	fs.StringVar(&p.Service, "prometheus-service", p.Service, "Answer from an in-cluster Prometheus reached through the API server's service proxy: NAMESPACE/NAME:PORT (e.g. istio-system/prometheus:9090)")
	fs.StringVar(&p.Token, "prometheus-token", p.Token, "Bearer token for --prometheus")
	fs.StringVar(&p.TokenFile, "prometheus-token-file", p.TokenFile, "File holding the bearer token for --prometheus")
	fs.StringVar(&p.CAFile, "prometheus-ca-file", p.CAFile, "CA certificate file that signed --prometheus's serving certificate")
	fs.BoolVar(&p.Insecure, "prometheus-insecure-skip-tls-verify", p.Insecure, "Do not check --prometheus's serving certificate (insecure)")
	fs.BoolVar(&p.ThenForward, "then-forward", p.ThenForward, "With --prometheus: read the pods whose passthrough or blocked traffic Prometheus cannot name, through port-forwards")
}

func (p *prometheusFlags) set() bool { return p.URL != "" || p.Service != "" }

func (p *prometheusFlags) validate() error {
	switch {
	case p.URL != "" && p.Service != "":
		return fmt.Errorf("--prometheus and --prometheus-service do not go together: pick one")
	case p.Service != "" && !strings.Contains(p.Service, "/"):
		return fmt.Errorf("--prometheus-service must be NAMESPACE/NAME:PORT, not %q", p.Service)
	case p.Token != "" && p.TokenFile != "":
		return fmt.Errorf("--prometheus-token and --prometheus-token-file do not go together: pick one")
	case !p.set() && (p.ThenForward || p.Token != "" || p.TokenFile != "" || p.CAFile != "" || p.Insecure):
		return fmt.Errorf("--then-forward and the --prometheus-* auth flags go with --prometheus or --prometheus-service")
	case p.Service != "" && (p.Token != "" || p.TokenFile != "" || p.CAFile != "" || p.Insecure):
		return fmt.Errorf("--prometheus-service authenticates as the kubeconfig does: drop the --prometheus-* auth flags")
	}
	return nil
}

// api builds the Prometheus client: straight to --prometheus, or through the API server's
// service proxy with the kubeconfig's credentials (RBAC verb "get" on "services/proxy").
func (p *prometheusFlags) api(getter genericclioptions.RESTClientGetter) (*inspect.PrometheusClient, string, error) {
	if p.Service != "" {
		rc, err := getter.ToRESTConfig()
		if err != nil {
			return nil, "", err
		}
		rt, err := rest.TransportFor(rc)
		if err != nil {
			return nil, "", err
		}
		ns, svc, _ := strings.Cut(p.Service, "/")
		addr := strings.TrimSuffix(rc.Host, "/") + "/api/v1/namespaces/" + ns + "/services/" + svc + "/proxy"
		return &inspect.PrometheusClient{Address: addr, Client: &http.Client{Transport: rt}}, addr, nil
	}
	u, err := url.Parse(p.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, "", fmt.Errorf("--prometheus must be an http[s]://HOST:PORT[/PATH] URL")
	}
	rt, err := p.transport()
	if err != nil {
		return nil, "", err
	}
	// The address is said in messages without its user info.
	return &inspect.PrometheusClient{Address: p.URL, Client: &http.Client{Transport: rt}}, u.Redacted(), nil
}

// transport is the TLS and bearer-token transport of --prometheus.
func (p *prometheusFlags) transport() (http.RoundTripper, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	tlsConfig := &tls.Config{InsecureSkipVerify: p.Insecure} //nolint:gosec // the user asked for it
	if p.CAFile != "" {
		pem, err := os.ReadFile(p.CAFile)
		if err != nil {
			return nil, fmt.Errorf("failed to read --prometheus-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--prometheus-ca-file %s holds no PEM certificate", p.CAFile)
		}
		tlsConfig.RootCAs = pool
	}
	t.TLSClientConfig = tlsConfig
	token := p.Token
	if p.TokenFile != "" {
		b, err := os.ReadFile(p.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("failed to read --prometheus-token-file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		return t, nil
	}
	return &bearer{token: token, next: t}, nil
}

// bearer adds an Authorization header to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}
