package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-egress/kubectl-egress/inspect"
	"github.com/kubectl-egress/kubectl-egress/remedy"
)

// errNoTerminal is the refusal of the interactive fix when there is no one to ask.
var errNoTerminal = errors.New("kubectl egress fix is interactive and needs a terminal: use kubectl egress register|enable-tls-origination|route-via-gateway HOST --yes, or -o yaml")

// choiceSkip is the answer that leaves a host as it is.
const choiceSkip = "skip"

// FixOptions is `kubectl egress fix`, the interactive flow: inspect, choose per host, preview,
// confirm, apply, verify.
type FixOptions struct {
	configFlags *genericclioptions.ConfigFlags
	fixFlags

	Args       []string
	Selector   string
	VerifyWait time.Duration

	// terminal tells whether stdin and stdout are a terminal; tests replace it.
	terminal func() bool
	now      func() time.Time
	genericiooptions.IOStreams
}

// NewFixOptions returns the defaults.
func NewFixOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *FixOptions {
	o := &FixOptions{configFlags: configFlags, fixFlags: newFixFlags(), VerifyWait: 30 * time.Second,
		now: time.Now, IOStreams: streams}
	o.terminal = func() bool { return isTerminal(o.In) && isTerminal(o.ui()) }
	return o
}

// ui is where the prompts and the list of hosts go: stdout, or stderr with -o yaml so that
// `kubectl egress fix -o yaml > fix.yaml` asks on the terminal and writes only YAML to the file.
func (o *FixOptions) ui() io.Writer {
	if o.Output == "yaml" {
		return o.ErrOut
	}
	return o.Out
}

// NewCmdFix returns `kubectl egress fix`.
func NewCmdFix(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewFixOptions(configFlags, streams)
	cmd := &cobra.Command{
		Use:   "fix [POD | TYPE/NAME] [-l SELECTOR] [-n NAMESPACE]",
		Short: "Interactively fix the hosts that leave through PassthroughCluster or are blocked",
		Long: `Fix inspects the sidecars of a namespace (or one workload), lists the external hosts that
leave through PassthroughCluster or die in BlackHoleCluster, and asks, host by host, which fix to
apply: register (ServiceEntry), TLS origination, egress gateway, or skip; the default is the
recommendation of inspect. It then shows the whole plan and its diff against the live objects,
asks for confirmation, applies it, and verifies on the sidecars that it took effect.

It needs a terminal. In scripts use register, enable-tls-origination or route-via-gateway with
--yes, or -o yaml. Run on a terminal without a command, kubectl egress starts this flow.`,
		ValidArgsFunction: CompleteTarget(configFlags),
		Example: `  # Fix what the pods of a namespace call
  kubectl egress fix -n demo-passthrough

  # One workload; write the chosen manifests instead of applying them
  kubectl egress fix deploy/shop -n demo-passthrough -o yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !o.terminal() {
				return errNoTerminal // before reading the kubeconfig: nothing else matters without a terminal
			}
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
	fs.StringVarP(&o.Selector, "selector", "l", o.Selector, "Label selector for the pods to inspect (e.g. app=shop)")
	fs.DurationVar(&o.VerifyWait, "verify-wait", o.VerifyWait, "After applying, how long to wait for istiod to push the fix to the sidecars")
	return cmd
}

// bareEgress is what `kubectl egress` with no command does: the interactive fix on a terminal,
// the help otherwise.
func bareEgress(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		o := NewFixOptions(configFlags, streams)
		if !o.terminal() {
			return cmd.Help()
		}
		if err := o.Complete(nil, args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return o.Run(cmd.Context())
	}
}

// Complete fills the namespace and keeps the target.
func (o *FixOptions) Complete(cmd *cobra.Command, args []string) error {
	o.Args = args
	return o.complete(cmd, o.configFlags)
}

// Validate refuses to run without a terminal, then checks the shared fix flags.
func (o *FixOptions) Validate() error {
	if !o.terminal() {
		return errNoTerminal
	}
	if o.VerifyWait < 0 {
		return fmt.Errorf("--verify-wait must not be negative, not %s", o.VerifyWait)
	}
	return o.validate()
}

// fixCandidate is one host the interactive fix offers to fix.
type fixCandidate struct {
	Host        string
	Ports       []uint32
	Protocol    string
	Disposition inspect.Disposition
	Pods        []string
	Fix         inspect.Fix
	Reason      string
}

// fixCandidates are the passthrough and blocked hosts of a report that a fix can name, one per
// host, sorted; traffic no signal could name ("unknown") cannot be fixed by host.
func fixCandidates(r inspect.Report) []fixCandidate {
	var out []fixCandidate
	for _, d := range r.Destinations {
		if d.Disposition != inspect.DispositionPassthrough && d.Disposition != inspect.DispositionBlocked {
			continue
		}
		if d.Host == "" || d.Host == "unknown" || d.Host == "*" {
			continue
		}
		i := slices.IndexFunc(out, func(c fixCandidate) bool { return c.Host == d.Host })
		if i < 0 {
			out = append(out, fixCandidate{Host: d.Host, Disposition: d.Disposition, Fix: d.Recommendation.Fix, Reason: d.Recommendation.Reason})
			i = len(out) - 1
		}
		c := &out[i]
		if d.Port != 0 && !slices.Contains(c.Ports, d.Port) {
			c.Ports = append(c.Ports, d.Port)
			slices.Sort(c.Ports)
		}
		if c.Protocol == "" || d.Protocol == "TLS" {
			c.Protocol = d.Protocol
		}
		if d.Recommendation.Fix == inspect.FixTLSOrigination {
			c.Fix, c.Reason = d.Recommendation.Fix, d.Recommendation.Reason
		}
		for _, p := range d.Pods {
			if !slices.Contains(c.Pods, p) {
				c.Pods = append(c.Pods, p)
			}
		}
	}
	slices.SortFunc(out, func(a, b fixCandidate) int { return strings.Compare(a.Host, b.Host) })
	return out
}

// defaultChoice is the answer preselected for a host: its recommendation.
func defaultChoice(c fixCandidate) string {
	switch c.Fix {
	case inspect.FixRegister, inspect.FixTLSOrigination, inspect.FixEgressGateway:
		return string(c.Fix)
	}
	return choiceSkip
}

func (c fixCandidate) portsText() string {
	if len(c.Ports) == 0 {
		return "-"
	}
	s := make([]string, len(c.Ports))
	for i, p := range c.Ports {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ",")
}

// Run is the whole interactive flow.
func (o *FixOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	fmt.Fprintf(o.ErrOut, "Inspecting the sidecars in namespace %s...\n", o.Namespace)
	report, err := o.inspect(ctx)
	if err != nil {
		return err
	}
	candidates := fixCandidates(report)
	if len(candidates) == 0 {
		fmt.Fprintf(o.ui(), "No host leaves through PassthroughCluster or is blocked in namespace %s: nothing to fix.\n", o.Namespace)
		return nil
	}
	printCandidates(o.ui(), candidates)

	choices, err := o.ask(candidates)
	if err != nil {
		return err
	}
	r, err := newFixRunner(o.configFlags, o.IOStreams, o.fixFlags)
	if err != nil {
		return err
	}
	r.useReport(report)
	var plans []*remedy.Plan
	refused := 0
	for _, c := range candidates {
		choice := choices[c.Host]
		if choice == choiceSkip {
			continue
		}
		// A guard's refusal for one host (double TLS, a conflicting object) leaves the others to fix.
		p, err := r.planFor(ctx, fixRequest{Host: c.Host, Fix: inspect.Fix(choice)})
		if err != nil {
			r.warnf("skipping %s: cannot plan %s: %v", c.Host, choice, err)
			refused++
			continue
		}
		plans = append(plans, p)
	}
	if len(plans) == 0 {
		if refused > 0 {
			return fmt.Errorf("nothing to apply: every chosen fix was refused (see the warnings above)")
		}
		fmt.Fprintln(o.ui(), "Every host skipped: nothing to apply.")
		return nil
	}
	r.printWarnings(plans)
	if o.Output == "yaml" {
		if err := r.writeYAML(plans); err != nil {
			return err
		}
		r.printNotes(o.ErrOut, plans)
		return nil
	}
	fmt.Fprintln(o.Out)
	if err := r.preview(ctx, plans); err != nil {
		return err
	}
	if !o.Yes {
		ok, err := o.confirm(fmt.Sprintf("Apply %s to namespace %s?", objectCount(plans), o.Namespace))
		if err != nil {
			return err
		}
		if !ok {
			return errDeclined
		}
	}
	if _, err := r.apply(ctx, plans); err != nil {
		return err
	}
	r.printNotes(o.Out, plans)
	if o.dryRun() != remedy.DryRunNone {
		return nil
	}
	for _, p := range plans {
		o.verify(ctx, p.Host)
	}
	return nil
}

func (o *FixOptions) inspect(ctx context.Context) (inspect.Report, error) {
	config, err := o.configFlags.ToRESTConfig()
	if err != nil {
		return inspect.Report{}, err
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return inspect.Report{}, err
	}
	targets, err := inspect.ResolveTargets(ctx, o.configFlags, client, inspect.TargetQuery{
		Args: o.Args, Namespace: o.Namespace, Selector: o.Selector,
	})
	if err != nil {
		return inspect.Report{}, err
	}
	fetcher := &inspect.Fetcher{
		Forwarder: &inspect.PortForwarder{Config: config, Client: client},
		Client:    client, AdminPort: o.AdminPort, Caps: inspect.DefaultCaps, Since: time.Hour,
	}
	report := inspect.Aggregate(inspect.InspectPods(ctx, fetcher, targets.Pods, 8, o.now(), nil))
	for _, s := range targets.Skipped {
		fmt.Fprintf(o.ErrOut, "skipped pod %s: %s\n", s.Pod.Key(), s.Reason)
	}
	for _, p := range report.Pods {
		for _, e := range p.Errors {
			fmt.Fprintf(o.ErrOut, "Warning: %s\n", e)
		}
	}
	return report, nil
}

func printCandidates(w io.Writer, cs []fixCandidate) {
	fmt.Fprintf(w, "%d external %s not registered in the mesh:\n\n", len(cs), plural(len(cs), "host is", "hosts are"))
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "HOST\tPORTS\tPROTOCOL\tDISPOSITION\tPODS\tRECOMMENDED")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", c.Host, c.portsText(), dashIfEmpty(c.Protocol), c.Disposition, len(c.Pods), defaultChoice(c))
	}
	tw.Flush()
	fmt.Fprintln(w)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fixMenu is what ask offers for each host, in order; a user answers with the number or the word.
var fixMenu = []struct{ choice, text string }{
	{string(inspect.FixRegister), "a ServiceEntry (own cluster; the app keeps its TLS)"},
	{string(inspect.FixTLSOrigination), "the sidecar does TLS, the app calls http:// (L7 metrics)"},
	{string(inspect.FixEgressGateway), "leave the mesh through the egress gateway"},
	{choiceSkip, "leave it as it is"},
}

// errAborted is the answer to Ctrl-C or end of input at a prompt.
var errAborted = errors.New("nothing applied: aborted")

// ask asks, host by host, which fix to apply; Enter takes the recommendation. Plain line prompts
// work in every terminal, screen reader and `script` session, and answer typed ahead is kept.
func (o *FixOptions) ask(cs []fixCandidate) (map[string]string, error) {
	choices := map[string]string{}
	for i, c := range cs {
		def := defaultChoice(c)
		fmt.Fprintf(o.ui(), "\nFix for %s (%d/%d): %s on port %s (%s), from %d %s. Recommended: %s. %s\n",
			c.Host, i+1, len(cs), c.Disposition, c.portsText(), dashIfEmpty(c.Protocol), len(c.Pods), plural(len(c.Pods), "pod", "pods"), def, c.Reason)
		defNum := 0
		for j, m := range fixMenu {
			fmt.Fprintf(o.ui(), "  %d) %-16s %s\n", j+1, m.choice, m.text)
			if m.choice == def {
				defNum = j + 1
			}
		}
		for {
			fmt.Fprintf(o.ui(), "Choose 1-%d [%d]: ", len(fixMenu), defNum)
			line, err := o.readLine()
			if err != nil {
				return nil, err
			}
			if choice, ok := menuChoice(line, def); ok {
				choices[c.Host] = choice
				fmt.Fprintf(o.ui(), "%s: %s\n", c.Host, choice)
				break
			}
			fmt.Fprintf(o.ui(), "%q is not one of the choices: type a number from 1 to %d, or a name\n", line, len(fixMenu))
		}
	}
	return choices, nil
}

// menuChoice reads an answer: empty for the default, a number, or a choice's name.
func menuChoice(answer, def string) (string, bool) {
	answer = strings.TrimSpace(answer)
	if answer == "" {
		return def, true
	}
	for j, m := range fixMenu {
		if answer == fmt.Sprint(j+1) || strings.EqualFold(answer, m.choice) {
			return m.choice, true
		}
	}
	return "", false
}

// confirm asks a yes/no question; no is the default.
func (o *FixOptions) confirm(question string) (bool, error) {
	fmt.Fprintf(o.ui(), "%s [y/N]: ", question)
	line, err := o.readLine()
	if err != nil {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// readLine reads one answer; end of input or Ctrl-C (SIGINT, which the terminal sends instead
// of a key) aborts before anything is applied.
func (o *FixOptions) readLine() (string, error) {
	type answer struct {
		line string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		line, err := readLineFrom(o.In)
		got <- answer{line, err}
	}()
	interrupt := make(chan os.Signal, 1)
	signal.Notify(interrupt, os.Interrupt)
	defer signal.Stop(interrupt)
	select {
	case a := <-got:
		return a.line, a.err
	case <-interrupt:
		fmt.Fprintln(o.ui())
		return "", errAborted
	}
}

// readLineFrom reads a line a byte at a time, so nothing typed ahead is swallowed by a buffer.
func readLineFrom(in io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := in.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return strings.TrimSuffix(b.String(), "\r"), nil
			}
			b.WriteByte(buf[0])
		}
		if err != nil {
			return "", errAborted
		}
	}
}

// verify waits until istiod has pushed the fix of host to the sidecars that call it (its
// config checks pass) or VerifyWait is over, and prints the verdict. Traffic checks may still
// be pending: the app may not have called since, or must switch to http:// first.
func (o *FixOptions) verify(ctx context.Context, host string) {
	fmt.Fprintf(o.Out, "\nVerifying %s on the sidecars...\n", host)
	v := NewVerifyOptions(o.configFlags, o.IOStreams)
	v.Host, v.Args, v.Namespace, v.Selector, v.AdminPort = host, o.Args, o.Namespace, o.Selector, o.AdminPort
	v.Wait, v.Interval = o.VerifyWait, time.Second
	v.until = configInPlace
	res, err := v.Verify(ctx)
	if err != nil {
		fmt.Fprintf(o.ErrOut, "Warning: cannot verify %s: %v\n", host, err)
		return
	}
	if err := inspect.PrintVerification(o.Out, res, inspect.FormatTable); err != nil {
		fmt.Fprintf(o.ErrOut, "Warning: %v\n", err)
	}
	switch {
	case res.Passed:
		fmt.Fprintf(o.Out, "%s: the fix took effect.\n", host)
	case configInPlace(res):
		fmt.Fprintf(o.Out, "%s: the sidecars have the fix; check again after the app's next calls: kubectl egress verify %s -n %s\n", host, host, o.Namespace)
	default:
		fmt.Fprintf(o.Out, "%s: not in effect after %s; see above, and check again with: kubectl egress verify %s -n %s --wait 1m\n", host, o.VerifyWait, host, o.Namespace)
	}
}

// configInPlace reports whether every pod has the fix's configuration (own cluster or gateway
// route, and TLS origination where chosen), whatever its traffic shows yet.
func configInPlace(v inspect.Verification) bool {
	if len(v.Pods) == 0 {
		return false
	}
	for _, p := range v.Pods {
		for _, c := range p.Checks {
			if (c.Name == inspect.CheckCluster || c.Name == inspect.CheckTLS) && (c.Status == inspect.CheckFail || c.Status == inspect.CheckPending) {
				return false
			}
		}
	}
	return true
}
