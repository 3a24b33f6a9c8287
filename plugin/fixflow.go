package plugin

// The fix flow, shared by `register`, `enable-tls-origination`, `route-via-gateway` and the
// interactive `fix`:
//
//	f := newFixFlags()                            // in the command's constructor
//	f.addFlags(cmd.Flags())                       // --yes, --dry-run, -o, --force, --istio-version, --timeout, --retries, --export-to, --admin-port
//	f.complete(cmd, configFlags)                  // namespace from -n or the kubeconfig; which flags were set
//	f.validate()                                  // exact, one-line errors
//	r, err := newFixRunner(configFlags, streams, f) // clients, Istio CRD discovery
//	r.useReport(report)                           // optional: an inspect report the caller already has
//	plan, err := r.planFor(ctx, fixRequest{Host: h, Fix: inspect.FixRegister})
//	err = r.run(ctx, []*remedy.Plan{plan})        // -o yaml, or preview + confirm + apply
//
// run is the non-interactive flow as one call: with -o yaml it writes the manifests and applies
// nothing; otherwise, on a terminal (stdin and stdout), it prints the plan as YAML and the diff
// against the live objects (a server-side dry run), and asks for confirmation unless --yes;
// without a terminal and without --yes it refuses (dry runs need no confirmation, they write
// nothing). Then it applies each plan with server-side apply (field manager kubectl-egress), all
// or nothing per plan (remedy rolls back), and prints kubectl's result lines to stdout.
// Warnings go to stderr ("Warning: ..."); the notes for the application owner are printed
// plainly after the result lines (to stderr with -o yaml, so stdout stays YAML).
//
// The interactive fix can call the steps one by one instead of run: writeYAML, preview,
// confirm, apply, printNotes. Plans of several hosts are applied one after the other; a failure
// stops at that host, whose own objects are rolled back, and leaves the earlier hosts applied
// (the error names them).
//
// The Istio version the planners use comes from --istio-version, else from the proxies of the
// target namespace (the oldest ISTIO_VERSION their server_info reports), else it stays unknown,
// which plans for a current Istio. Ports and protocols for register, the app's own ports (for the
// double-TLS guard) and the pods that call https://HOST today come from the same inspection.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-egress/kubectl-egress/inspect"
	"github.com/kubectl-egress/kubectl-egress/remedy"
)

// errNoConfirmation is the refusal to apply without a terminal to ask on and without --yes.
var errNoConfirmation = errors.New("refusing to apply without confirmation: stdin is not a terminal; pass --yes to apply, or -o yaml to write the manifests")

// errDeclined is returned when the user answers no.
var errDeclined = errors.New("nothing applied: not confirmed")

// fixFlags are the flags every fix command shares.
type fixFlags struct {
	// Namespace receives the objects; from -n or the kubeconfig.
	Namespace    string
	Yes          bool
	DryRun       string
	Output       string
	Force        bool
	IstioVersion string
	ExportTo     []string
	AdminPort    int
	Timeout      time.Duration
	// Retries is --retries; RetriesSet tells whether it was given (0 disables retries).
	Retries    int
	RetriesSet bool
	// Observe bounds the inspection of the namespace's proxies.
	Observe time.Duration
}

func newFixFlags() fixFlags {
	return fixFlags{DryRun: string(remedy.DryRunNone), AdminPort: inspect.DefaultAdminPort, Observe: 60 * time.Second}
}

func (f *fixFlags) addFlags(fs *pflag.FlagSet) {
	fs.BoolVarP(&f.Yes, "yes", "y", f.Yes, "Apply without asking for confirmation")
	fs.StringVar(&f.DryRun, "dry-run", f.DryRun, `Must be "none", "server", or "client": server sends the objects with dryRun=All, client sends nothing`)
	fs.StringVarP(&f.Output, "output", "o", f.Output, "Output format: yaml writes the manifests to stdout and applies nothing")
	fs.BoolVar(&f.Force, "force", f.Force, "Take over objects of the same name that kubectl-egress does not manage, and fields other managers own")
	fs.StringVar(&f.IstioVersion, "istio-version", f.IstioVersion, "Istio version to plan for (default: the proxies' own)")
	fs.StringSliceVar(&f.ExportTo, "export-to", f.ExportTo, `Namespaces that see the objects (default ".": this namespace only)`)
	fs.IntVar(&f.AdminPort, "admin-port", f.AdminPort, "Envoy admin port in the pods read to see their traffic and Istio version")
	fs.DurationVar(&f.Timeout, "timeout", f.Timeout, "Request timeout for the host (adds a VirtualService route; HTTP only)")
	fs.IntVar(&f.Retries, "retries", f.Retries, "Retry attempts for the host (adds a VirtualService route; HTTP only; 0 disables retries)")
}

// complete fills the namespace from -n or the kubeconfig and records which flags were given.
func (f *fixFlags) complete(cmd *cobra.Command, configFlags *genericclioptions.ConfigFlags) error {
	if cmd != nil {
		f.RetriesSet = cmd.Flags().Changed("retries")
	}
	ns, _, err := configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	f.Namespace = ns
	return nil
}

func (f *fixFlags) validate() error {
	if _, err := remedy.ParseDryRun(f.DryRun); err != nil {
		return err
	}
	switch f.Output {
	case "", "yaml":
	default:
		return fmt.Errorf("unknown output format %q: use yaml", f.Output)
	}
	if _, err := remedy.ParseIstioVersion(f.IstioVersion); err != nil {
		return fmt.Errorf("--istio-version: %w", err)
	}
	if f.Timeout < 0 {
		return fmt.Errorf("--timeout must not be negative, not %s", f.Timeout)
	}
	if f.RetriesSet && f.Retries < 0 {
		return fmt.Errorf("--retries must not be negative, not %d", f.Retries)
	}
	if f.AdminPort < 1 || f.AdminPort > 65535 {
		return fmt.Errorf("--admin-port must be a port number, not %d", f.AdminPort)
	}
	return nil
}

func (f *fixFlags) dryRun() remedy.DryRun {
	d, _ := remedy.ParseDryRun(f.DryRun)
	return d
}

func (f *fixFlags) route() remedy.RoutePolicy {
	rp := remedy.RoutePolicy{Timeout: f.Timeout}
	if f.RetriesSet {
		n := int32(f.Retries)
		rp.Retries = &n
	}
	return rp
}

// fixRequest is one host and the fix chosen for it, with the options of that fix.
type fixRequest struct {
	Host string
	Fix  inspect.Fix
	// Ports for register; empty means the ports inspect saw the namespace's pods use.
	Ports []remedy.Port
	// Addresses for register (IST0134).
	Addresses []string
	// CACertificates, CredentialName and WorkloadSelector verify the server (TLS origination,
	// or origination at the gateway).
	CACertificates   string
	CredentialName   string
	WorkloadSelector map[string]string
	// Gateway is the egress gateway Service as NAMESPACE/NAME; "" is istio-system/istio-egressgateway.
	Gateway string
	// GatewayTLSOrigination makes the egress gateway originate TLS.
	GatewayTLSOrigination bool
}

// DefaultEgressGateway is the egress gateway Service istioctl's default profile installs.
const DefaultEgressGateway = "istio-system/istio-egressgateway"

// fixRunner holds the clients and what was learned about the namespace during one fix run.
type fixRunner struct {
	configFlags *genericclioptions.ConfigFlags
	flags       fixFlags
	genericiooptions.IOStreams

	applier *remedy.Applier
	// report is the inspection of the namespace's proxies, read once (observe) or given (useReport).
	report *inspect.Report
	// existing is read once per run; apply resets it.
	existing *remedy.Existing
	// terminal tells whether the run can show a preview and ask; tests replace it.
	terminal func() bool
	now      func() time.Time
}

// newFixRunner connects to the cluster and checks that Istio's CRDs are served.
func newFixRunner(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, f fixFlags) (*fixRunner, error) {
	ap, err := newApplier(configFlags)
	if err != nil {
		return nil, err
	}
	r := &fixRunner{configFlags: configFlags, flags: f, IOStreams: streams, applier: ap, now: time.Now}
	r.terminal = func() bool { return isTerminal(streams.In) && isTerminal(streams.Out) }
	return r, nil
}

// newApplier connects remedy's Applier to the cluster of the kubeconfig.
func newApplier(configFlags *genericclioptions.ConfigFlags) (*remedy.Applier, error) {
	config, err := configFlags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	disco, err := configFlags.ToDiscoveryClient()
	if err != nil {
		return nil, err
	}
	return remedy.NewApplier(dyn, disco)
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// useReport gives the runner an inspect report of the namespace, so it does not inspect again.
func (r *fixRunner) useReport(rep inspect.Report) { r.report = &rep }

// observe inspects the proxies of the target namespace once: their destinations tell the
// ports, protocols and callers of a host, their server_info the Istio version. Pods that
// cannot be read are a warning, not a failure: the user can give --port and --istio-version.
func (r *fixRunner) observe(ctx context.Context) inspect.Report {
	if r.report != nil {
		return *r.report
	}
	rep, err := r.inspectNamespace(ctx)
	if err != nil {
		r.warnf("cannot read the proxies of namespace %s: %v", r.flags.Namespace, err)
	}
	r.report = &rep
	return rep
}

func (r *fixRunner) inspectNamespace(ctx context.Context) (inspect.Report, error) {
	config, err := r.configFlags.ToRESTConfig()
	if err != nil {
		return inspect.Report{}, err
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return inspect.Report{}, err
	}
	// A namespace without pods yet is no error: there is nothing to observe.
	some, err := client.CoreV1().Pods(r.flags.Namespace).List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return inspect.Report{}, fmt.Errorf("failed to list pods: %w", err)
	}
	if len(some.Items) == 0 {
		return inspect.Aggregate(nil), nil
	}
	targets, err := inspect.ResolveTargets(ctx, r.configFlags, client, inspect.TargetQuery{Namespace: r.flags.Namespace})
	if err != nil {
		return inspect.Report{}, err
	}
	if len(targets.Pods) == 0 {
		return inspect.Aggregate(nil), nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.flags.Observe)
	defer cancel()
	fetcher := &inspect.Fetcher{
		Forwarder: &inspect.PortForwarder{Config: config, Client: client},
		Client:    client, AdminPort: r.flags.AdminPort, Caps: inspect.DefaultCaps, Since: time.Hour,
	}
	rep := inspect.Aggregate(inspect.InspectPods(ctx, fetcher, targets.Pods, 8, r.now(), nil))
	for _, p := range rep.Pods {
		for _, e := range p.Errors {
			r.warnf("%s", e)
		}
	}
	return rep, nil
}

// istioVersion is --istio-version, else the oldest Istio the namespace's proxies run.
func (r *fixRunner) istioVersion(ctx context.Context) remedy.IstioVersion {
	if r.flags.IstioVersion != "" {
		v, _ := remedy.ParseIstioVersion(r.flags.IstioVersion)
		return v
	}
	return istioVersionOf(r.observe(ctx))
}

// istioVersionOf is the oldest Istio version among the report's proxies; unknown when none says.
func istioVersionOf(rep inspect.Report) remedy.IstioVersion {
	var oldest remedy.IstioVersion
	for _, p := range rep.Pods {
		v, err := remedy.ParseIstioVersion(p.IstioVersion)
		if err != nil || !v.Known() {
			continue
		}
		if !oldest.Known() || v.Before(oldest.Major, oldest.Minor) {
			oldest = v
		}
	}
	return oldest
}

// observedPorts are the ports and protocols the report saw for host, as a ServiceEntry names them.
func observedPorts(rep inspect.Report, host string) []remedy.Port {
	var out []remedy.Port
	for _, d := range rep.Destinations {
		if !strings.EqualFold(d.Host, host) || d.Port == 0 || d.Disposition == inspect.DispositionBypassed {
			continue
		}
		p := remedy.Port{Number: d.Port, Protocol: seProtocol(d)}
		if !slices.ContainsFunc(out, func(q remedy.Port) bool { return q.Number == p.Number }) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b remedy.Port) int { return int(a.Number) - int(b.Number) })
	return out
}

// seProtocol is the ServiceEntry protocol for what inspect saw: HTTP, TLS or TCP. An unknown
// protocol on 443 is taken as TLS, elsewhere as TCP.
func seProtocol(d inspect.Destination) string {
	switch strings.ToUpper(d.Protocol) {
	case "HTTP", "TLS", "TCP":
		return strings.ToUpper(d.Protocol)
	}
	if d.Port == 443 {
		return "TLS"
	}
	return "TCP"
}

// httpsCallers are the pods that call https://host today, per the report.
func httpsCallers(rep inspect.Report, host string) []string {
	var out []string
	for _, d := range rep.Destinations {
		if strings.EqualFold(d.Host, host) && strings.EqualFold(d.Protocol, "TLS") {
			for _, p := range d.Pods {
				if !slices.Contains(out, p) {
					out = append(out, p)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// existingObjects reads, once per run, what the guards compare plans with.
func (r *fixRunner) existingObjects(ctx context.Context) (remedy.Existing, error) {
	if r.existing != nil {
		return *r.existing, nil
	}
	ex, err := r.applier.Existing(ctx, r.flags.Namespace)
	if err != nil {
		return ex, err
	}
	r.existing = &ex
	return ex, nil
}

func (r *fixRunner) target(ctx context.Context, host string) remedy.Target {
	return remedy.Target{
		Host:       host,
		Namespace:  r.flags.Namespace,
		ExportTo:   r.flags.ExportTo,
		Istio:      r.istioVersion(ctx),
		APIVersion: r.applier.APIVersion(),
		Force:      r.flags.Force,
		Route:      r.flags.route(),
	}
}

// planFor plans req for the run's namespace: the guards and Istio's validation run inside the
// planners, so an error here is a one-line refusal with its way out.
func (r *fixRunner) planFor(ctx context.Context, req fixRequest) (*remedy.Plan, error) {
	host := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(req.Host), "."))
	ex, err := r.existingObjects(ctx)
	if err != nil {
		return nil, err
	}
	t := r.target(ctx, host)
	switch req.Fix {
	case inspect.FixRegister:
		ports := req.Ports
		if len(ports) == 0 {
			ports = observedPorts(r.observe(ctx), host)
			if len(ports) == 0 {
				return nil, fmt.Errorf("no traffic to %s was seen from the pods of namespace %s: give its port and protocol, e.g. --port 443 --protocol TLS", host, r.flags.Namespace)
			}
		}
		return remedy.PlanRegister(t, remedy.RegisterOptions{Ports: ports, Addresses: req.Addresses}, ex)
	case inspect.FixTLSOrigination:
		rep := r.observe(ctx)
		p, err := remedy.PlanTLSOrigination(t, remedy.TLSOriginationOptions{
			CACertificates:   req.CACertificates,
			CredentialName:   req.CredentialName,
			WorkloadSelector: req.WorkloadSelector,
			AppPorts:         observedPorts(rep, host),
		}, ex)
		if err != nil {
			return nil, err
		}
		addCallersNote(p, rep, host)
		return p, nil
	case inspect.FixEgressGateway:
		gw := req.Gateway
		if gw == "" {
			gw = DefaultEgressGateway
		}
		ns, name, ok := strings.Cut(gw, "/")
		if !ok || ns == "" || name == "" {
			return nil, fmt.Errorf("invalid gateway %q: want NAMESPACE/NAME of its Service, e.g. %s", gw, DefaultEgressGateway)
		}
		g, err := r.applier.EgressGateway(ctx, ns, name)
		if err != nil {
			return nil, err
		}
		rep := r.observe(ctx)
		p, err := remedy.PlanEgressGateway(t, remedy.EgressGatewayOptions{
			Gateway:        g,
			TLSOrigination: req.GatewayTLSOrigination,
			CACertificates: req.CACertificates,
			CredentialName: req.CredentialName,
			AppPorts:       observedPorts(rep, host),
		}, ex)
		if err != nil {
			return nil, err
		}
		if req.GatewayTLSOrigination {
			addCallersNote(p, rep, host)
		}
		return p, nil
	}
	return nil, fmt.Errorf("unknown fix %q for %s: use %s, %s or %s", req.Fix, host,
		inspect.FixRegister, inspect.FixTLSOrigination, inspect.FixEgressGateway)
}

// addCallersNote names the pods the app owner must change: they call https://host today.
func addCallersNote(p *remedy.Plan, rep inspect.Report, host string) {
	if callers := httpsCallers(rep, host); len(callers) > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("pods that call https://%s today and must switch to http://%s: %s",
			host, host, strings.Join(callers, ", ")))
	}
}

// run is the whole non-interactive flow for plans (see the top of this file).
func (r *fixRunner) run(ctx context.Context, plans []*remedy.Plan) error {
	r.printWarnings(plans)
	if r.flags.Output == "yaml" {
		if err := r.writeYAML(plans); err != nil {
			return err
		}
		r.printNotes(r.ErrOut, plans)
		return nil
	}
	dry := r.flags.dryRun()
	if dry == remedy.DryRunNone {
		if r.terminal() {
			if err := r.preview(ctx, plans); err != nil {
				return err
			}
			if !r.flags.Yes {
				ok, err := r.confirm(fmt.Sprintf("Apply %s to namespace %s?", objectCount(plans), r.flags.Namespace))
				if err != nil {
					return err
				}
				if !ok {
					return errDeclined
				}
			}
		} else if !r.flags.Yes {
			return errNoConfirmation
		}
	}
	if _, err := r.apply(ctx, plans); err != nil {
		return err
	}
	r.printNotes(r.Out, plans)
	return nil
}

func objectCount(plans []*remedy.Plan) string {
	n := 0
	for _, p := range plans {
		n += len(p.Objects)
	}
	if n == 1 {
		return "1 object"
	}
	return fmt.Sprintf("%d objects", n)
}

// writeYAML writes the plans as one multi-document YAML stream (-o yaml).
func (r *fixRunner) writeYAML(plans []*remedy.Plan) error {
	for i, p := range plans {
		if i > 0 {
			fmt.Fprintln(r.Out, "---")
		}
		if err := remedy.WriteYAML(r.Out, p); err != nil {
			return err
		}
	}
	return nil
}

// preview prints each plan as YAML and its diff against the live objects (server-side dry run).
func (r *fixRunner) preview(ctx context.Context, plans []*remedy.Plan) error {
	for _, p := range plans {
		fmt.Fprintf(r.Out, "# %s for %s in namespace %s (%s):\n", p.Fix, p.Host, p.Namespace, objectCount([]*remedy.Plan{p}))
		if err := remedy.WriteYAML(r.Out, p); err != nil {
			return err
		}
		diff, err := r.applier.Diff(ctx, p, r.flags.Force)
		if err != nil {
			return err
		}
		if diff == "" {
			fmt.Fprintf(r.Out, "# no changes: the live objects already match\n\n")
			continue
		}
		fmt.Fprintf(r.Out, "# diff against the live objects:\n%s\n", diff)
	}
	return nil
}

// confirm asks question on stdout and reads y/yes from stdin; anything else is no.
func (r *fixRunner) confirm(question string) (bool, error) {
	fmt.Fprintf(r.Out, "%s [y/N]: ", question)
	line, err := bufio.NewReader(r.In).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("failed to read the answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// apply applies each plan (all or nothing per plan) and prints kubectl's result lines.
func (r *fixRunner) apply(ctx context.Context, plans []*remedy.Plan) ([]remedy.Result, error) {
	var all []remedy.Result
	var done []string
	for _, p := range plans {
		results, err := r.applier.Apply(ctx, p, remedy.ApplyOptions{DryRun: r.flags.dryRun(), Force: r.flags.Force})
		if err != nil {
			// The plan's objects were rolled back: no result line would be true.
			if len(done) > 0 {
				return all, fmt.Errorf("%w (already applied: %s)", err, strings.Join(done, ", "))
			}
			return all, err
		}
		for _, res := range results {
			fmt.Fprintln(r.Out, res)
		}
		all = append(all, results...)
		done = append(done, p.Host)
	}
	r.existing = nil
	return all, nil
}

func (r *fixRunner) printWarnings(plans []*remedy.Plan) {
	for _, p := range plans {
		for _, w := range p.Warnings {
			r.warnf("%s", w)
		}
	}
}

func (r *fixRunner) warnf(format string, args ...any) {
	fmt.Fprintf(r.ErrOut, "Warning: "+format+"\n", args...)
}

// printNotes prints what the application owner must know or change, plainly.
func (r *fixRunner) printNotes(w io.Writer, plans []*remedy.Plan) {
	for _, p := range plans {
		for _, n := range p.Notes {
			fmt.Fprintln(w, n)
		}
	}
}
