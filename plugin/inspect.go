package plugin

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-egress/kubectl-egress/inspect"
	"github.com/kubectl-egress/kubectl-egress/internal/warning"
)

// InspectOptions is `kubectl egress inspect`.
type InspectOptions struct {
	configFlags *genericclioptions.ConfigFlags

	proxyFlags
	prom prometheusFlags

	Args      []string
	Namespace string
	Output    string
	AdminURL  string
	Files     []string
	Clusters  bool
	Endpoints bool
	Pods      bool
	All       bool
	ShowPaths bool

	now func() time.Time
	genericiooptions.IOStreams
}

// NewInspectOptions returns the defaults.
func NewInspectOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *InspectOptions {
	return &InspectOptions{
		configFlags: configFlags,
		proxyFlags:  newProxyFlags(time.Hour),
		now:         clock,
		IOStreams:   streams,
	}
}

// NewCmdInspect returns `kubectl egress inspect`.
func NewCmdInspect(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewInspectOptions(configFlags, streams)
	cmd := &cobra.Command{
		Use:   "inspect [POD | TYPE/NAME] [-l SELECTOR] [-n NAMESPACE | -A]",
		Short: "Report every external destination of pods' sidecars and how the proxy treats it",
		Long: `Inspect reads each sidecar's Envoy admin API through a port-forward (clusters, listeners,
endpoints, stats) and its access log, and reports every external destination by host, port and
protocol with its disposition: passthrough, blocked, registered, tls-origination, egress-gateway
or bypassed, and the fix it recommends.`,
		Example: `  # Every external destination in the mesh
  kubectl egress inspect -A

  # One workload, as JSON
  kubectl egress inspect deploy/shop -n demo-passthrough -o json

  # The clusters of one pod's sidecar, egress-focused, like istioctl proxy-config cluster
  kubectl egress inspect shop-7d9c4-x2x7q --clusters

  # Saved outputs, no cluster needed (config dump, /clusters, /stats/prometheus, access logs)
  kubectl egress inspect --file ./captures/

  # A reachable Envoy admin API
  kubectl egress inspect --admin-url http://127.0.0.1:15000

  # The whole mesh from Prometheus, then the pods whose TLS hosts it cannot name
  kubectl egress inspect -A --prometheus http://prometheus.example:9090 --since 1h --then-forward

  # An in-cluster Prometheus, through the API server's service proxy
  kubectl egress inspect -A --prometheus-service istio-system/prometheus:9090`,
		ValidArgsFunction: CompleteTarget(configFlags),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	o.addFlags(fs, "Inspect pods in every namespace")
	fs.StringVarP(&o.Output, "output", "o", o.Output, "Output format: wide, json or yaml (default: table)")
	fs.StringVar(&o.AdminURL, "admin-url", o.AdminURL, "Read this Envoy admin API (http://HOST:PORT) instead of a pod")
	fs.StringArrayVar(&o.Files, "file", o.Files, "Read saved admin outputs and access logs (file or directory; repeatable), or istioctl bug-report archives, instead of a pod")
	fs.BoolVar(&o.Clusters, "clusters", o.Clusters, "Print the sidecars' clusters instead of destinations")
	fs.BoolVar(&o.Endpoints, "endpoints", o.Endpoints, "Print the sidecars' endpoints instead of destinations")
	fs.BoolVar(&o.Pods, "pods", o.Pods, "Print each proxy's facts (Istio version, outbound mode, access logging, exclusions) instead of destinations")
	fs.BoolVar(&o.All, "all", o.All, "With --clusters or --endpoints: every cluster, not only egress ones")
	fs.BoolVar(&o.ShowPaths, "show-paths", o.ShowPaths, "Show the HTTP request paths and query strings the access logs name (-o json|yaml|wide); off by default, as they can hold tokens")
	o.prom.addFlags(fs)
	return cmd
}

// Complete fills the namespace from the kubeconfig and keeps the positional args.
func (o *InspectOptions) Complete(args []string) error {
	o.Args = args
	if o.offline() {
		return nil
	}
	ns, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	o.Namespace = ns
	return nil
}

func (o *InspectOptions) offline() bool { return len(o.Files) > 0 || o.AdminURL != "" }

// Validate checks flags that do not go together.
func (o *InspectOptions) Validate() error {
	switch o.Output {
	case "", "wide", "json", "yaml":
	default:
		return fmt.Errorf("unknown output format %q: use wide, json or yaml", o.Output)
	}
	if len(o.Files) > 0 && o.AdminURL != "" {
		return fmt.Errorf("--file and --admin-url do not go together: pick one source")
	}
	if o.offline() && (len(o.Args) > 0 || o.AllNamespaces || o.Selector != "") {
		return fmt.Errorf("--file and --admin-url read saved outputs or one proxy: drop the pod, -l and -A arguments")
	}
	views := 0
	for _, v := range []bool{o.Clusters, o.Endpoints, o.Pods} {
		if v {
			views++
		}
	}
	if views > 1 {
		return fmt.Errorf("--clusters, --endpoints and --pods do not go together: pick one")
	}
	if o.All && !o.Clusters && !o.Endpoints {
		return fmt.Errorf("--all goes with --clusters or --endpoints")
	}
	if err := o.prom.validate(); err != nil {
		return err
	}
	if o.prom.set() && (o.offline() || len(o.Args) > 0 || o.Selector != "" || views > 0) {
		return fmt.Errorf("--prometheus answers for a namespace (-n) or the mesh (-A) from metrics: drop the pod, -l, --file, --admin-url, --clusters, --endpoints and --pods")
	}
	return o.proxyFlags.validate()
}

// Run reads the sources, builds the report and prints it. Pods that could not be read are
// reported on stderr and make the run partial.
func (o *InspectOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	reading, err := o.read(ctx)
	if err != nil {
		return err
	}
	if len(reading.Pods) == 0 && len(reading.Skipped) > 0 && ctx.Err() == nil {
		return nothingReadable(reading.Skipped)
	}
	if err := o.print(reading.Report); err != nil {
		return err
	}
	o.notePrometheus(reading.Report)
	printSkipped(o.ErrOut, reading.Skipped)
	o.warnAccessLogOff(reading.Report)
	o.noteTrafficRead(reading.Report)
	printPodErrors(o.ErrOut, reading.Report)
	if ctx.Err() != nil {
		read := len(reading.Pods)
		return fmt.Errorf("%w: the report covers the %d of %d pods read before the interrupt", ErrInterrupted, read, read+reading.Unread)
	}
	if failed := reading.Failed(); failed > 0 {
		return fmt.Errorf("%w: %d of %d pods", ErrPartial, failed, len(reading.Report.Pods))
	}
	return nil
}

// warnAccessLogOff tells, once per namespace, that hosts of TLS passthrough traffic stay
// unknown without access logs, and prints the Telemetry resource that turns them on.
func (o *InspectOptions) warnAccessLogOff(r inspect.Report) {
	if o.Output == "json" || o.Output == "yaml" {
		return // the report carries enableAccessLogging itself
	}
	seen := map[string]bool{}
	for _, p := range r.Pods {
		if p.AccessLogging != inspect.AccessLoggingOff || seen[p.Namespace] || p.EnableAccessLogging == "" {
			continue
		}
		seen[p.Namespace] = true
		warning.Printf(o.ErrOut, "access logging is off for pod %s (%s): passthrough TLS hosts stay unnamed; to turn it on, apply:\n%s",
			p.Key(), p.AccessLoggingReason, strings.TrimSuffix(p.EnableAccessLogging, "\n"))
	}
}

// noteTrafficRead says, once, that the configuration of big proxies was read only as far as their
// traffic used it, so the registered hosts they did not call are not in the report.
func (o *InspectOptions) noteTrafficRead(r inspect.Report) {
	if o.Output == "json" || o.Output == "yaml" {
		return // the report carries configRead itself
	}
	var pods []string
	most := 0
	for _, p := range r.Pods {
		if p.ConfigRead == inspect.ConfigTraffic {
			pods = append(pods, p.Key())
			most = max(most, p.ActiveClusters)
		}
	}
	if len(pods) == 0 {
		return
	}
	which := fmt.Sprintf("pod %s holds %d clusters", pods[0], most)
	if len(pods) > 1 {
		which = fmt.Sprintf("%d pods (%s, …) hold up to %d clusters", len(pods), pods[0], most)
	}
	fmt.Fprintf(o.ErrOut, "note: %s: only the configuration the traffic used was read, so registered hosts not called are not listed; --config-scope all reads all of it\n", which)
}

func (o *InspectOptions) read(ctx context.Context) (inspect.Reading, error) {
	switch {
	case len(o.Files) > 0:
		return inspect.ReadFiles(o.Files, o.Read, o.now())
	case o.AdminURL != "":
		return inspect.ReadAdminURL(ctx, o.AdminURL, o.Read, o.now())
	case o.prom.set():
		return o.readPrometheus(ctx)
	}
	read := o.Read
	if (o.Clusters || o.Endpoints) && read.Config.Scope == inspect.ConfigAuto {
		// The views istioctl proxy-config gives list every cluster, whatever the traffic.
		read.Config.Scope = inspect.ConfigAll
	}
	r, err := inspect.NewReader(o.configFlags, read)
	if err != nil {
		return inspect.Reading{}, err
	}
	r.Now, r.Progress = o.now, o.progress()
	return r.Read(ctx, inspect.Scope{Args: o.Args, Namespace: o.Namespace, AllNamespaces: o.AllNamespaces, Selector: o.Selector})
}

// readPrometheus answers from Prometheus, then, with --then-forward, reads the pods whose
// passthrough or blocked traffic it could not name.
func (o *InspectOptions) readPrometheus(ctx context.Context) (inspect.Reading, error) {
	api, _, err := o.prom.api(o.configFlags)
	if err != nil {
		return inspect.Reading{}, err
	}
	q := inspect.PrometheusQuery{Since: o.Read.Since}
	if !o.AllNamespaces {
		q.Namespace = o.Namespace
	}
	p, err := inspect.ReadPrometheus(ctx, api, q, o.now())
	if err != nil {
		return inspect.Reading{}, err
	}
	reading := inspect.Reading{Pods: p.Workloads, Report: inspect.Aggregate(p.Workloads)}
	src := &inspect.PrometheusSource{Window: o.Read.Since.String(), Limits: inspect.PrometheusLimits, Warnings: p.Warnings}
	if o.prom.ThenForward && len(p.Gaps) > 0 {
		r, err := inspect.NewReader(o.configFlags, o.Read)
		if err != nil {
			return inspect.Reading{}, err
		}
		r.Now, r.Progress = o.now, o.progress()
		if reading, err = r.FillFromPods(ctx, p); err != nil {
			return inspect.Reading{}, err
		}
		for _, pod := range reading.Pods {
			src.Forwarded = append(src.Forwarded, pod.Pod.Key())
		}
	}
	reading.Report.Prometheus = src
	return reading, nil
}

// notePrometheus says, under a table, what a report from Prometheus cannot tell.
func (o *InspectOptions) notePrometheus(r inspect.Report) {
	if r.Prometheus == nil || o.Output == "json" || o.Output == "yaml" {
		return
	}
	for _, l := range r.Prometheus.Limits {
		fmt.Fprintf(o.ErrOut, "note: from Prometheus, %s\n", l)
	}
	if len(r.Prometheus.Forwarded) > 0 {
		fmt.Fprintf(o.ErrOut, "note: read through port-forwards to fill the gaps: %s\n", strings.Join(r.Prometheus.Forwarded, ", "))
	}
}

// progress draws "inspecting N/M pods" on stderr when it is a terminal, and nothing otherwise.
func (o *InspectOptions) progress() inspect.Progress {
	f, ok := o.ErrOut.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func(done, total int) {
		if total < 2 {
			return
		}
		fmt.Fprintf(f, "\rinspecting sidecars: %d/%d pods", done, total)
		if done == total {
			fmt.Fprint(f, "\r"+strings.Repeat(" ", 40)+"\r")
		}
	}
}

func (o *InspectOptions) print(r inspect.Report) error {
	if !o.ShowPaths {
		r = r.WithoutRequests()
	}
	switch {
	case o.Output == "json" || o.Output == "yaml":
		return inspect.PrintReport(o.Out, r, o.Output)
	case o.Clusters:
		return inspect.PrintClusters(o.Out, r, o.All)
	case o.Endpoints:
		return inspect.PrintEndpoints(o.Out, r, o.All)
	case o.Pods:
		return inspect.PrintPods(o.Out, r)
	}
	return inspect.PrintReport(o.Out, r, o.Output)
}

// nothingReadable is the error of a scope whose every pod was skipped: the first one's reason,
// with what to do about it.
func nothingReadable(skipped []inspect.Skipped) error {
	s := skipped[0]
	what := fmt.Sprintf("pod %s: %s", s.Pod.Key(), s.Reason)
	if len(skipped) > 1 {
		what = fmt.Sprintf("none of the %d matching pods can be read (%s, …)", len(skipped), what)
	}
	todo := "pick pods that run a sidecar"
	switch {
	case strings.HasPrefix(s.Reason, "not running"), s.Reason == "terminating":
		todo = "wait until it runs (kubectl get pod " + s.Pod.Name + " -n " + s.Pod.Namespace + "), or pick a running pod"
	case strings.Contains(s.Reason, "deleted while"):
		todo = "run it again on the pods that replaced it (kubectl get pods -n " + s.Pod.Namespace + ")"
	case strings.Contains(s.Reason, "sidecar"):
		todo = "inject one (label the namespace istio-injection=enabled, then restart the pod), or pick a pod that has one"
	}
	return fmt.Errorf("%s: %s", what, todo)
}

// printSkipped says which matched pods were not read, and why.
func printSkipped(w io.Writer, skipped []inspect.Skipped) {
	for _, s := range skipped {
		fmt.Fprintf(w, "skipped pod %s: %s\n", s.Pod.Key(), s.Reason)
	}
}

// printPodErrors prints each pod's read errors as warnings.
func printPodErrors(w io.Writer, r inspect.Report) {
	for _, p := range r.Pods {
		for _, e := range p.Errors {
			warning.Printf(w, "%s", e)
		}
	}
}
