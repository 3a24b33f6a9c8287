package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-egress/kubectl-egress/fixflow"
	"github.com/kubectl-egress/kubectl-egress/inspect"
	"github.com/kubectl-egress/kubectl-egress/internal/table"
)

// errNoTerminal is the refusal of the interactive fix when there is no one to ask.
var errNoTerminal = errors.New("kubectl egress fix is interactive and needs a terminal: use kubectl egress register|enable-tls-origination|route-via-gateway HOST --yes, or -o yaml")

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
		now: clock, IOStreams: streams}
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

// Run is the whole interactive flow: observe, choose per host, then the fix flow.
func (o *FixOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg := o.config(o.IOStreams)
	cfg.Observe = inspect.Scope{Args: o.Args, Selector: o.Selector}
	cfg.VerifyWait = o.VerifyWait
	cfg.Preview = true // Validate made sure this is a terminal
	prompt := &linePrompt{in: o.In, out: o.ui()}
	if !o.Yes {
		cfg.Confirm = prompt
	}
	if o.Output == "yaml" {
		cfg.ErrOut = o.ErrOut
	}
	flow := fixflow.New(o.configFlags, cfg)
	flow.Now = o.now

	fmt.Fprintf(o.ErrOut, "Inspecting the sidecars in namespace %s...\n", o.Namespace)
	obs := flow.Observe(ctx)
	printSkipped(o.ErrOut, obs.Skipped)
	candidates := fixflow.Candidates(obs.Report)
	if len(candidates) == 0 {
		fmt.Fprintf(o.ui(), "No host leaves through PassthroughCluster or is blocked in namespace %s: nothing to fix.\n", o.Namespace)
		return nil
	}
	if err := printCandidates(o.ui(), candidates); err != nil {
		return err
	}
	choices, err := ask(prompt, candidates)
	if err != nil {
		return err
	}
	var reqs []fixflow.Request
	for _, c := range candidates {
		if fix := choices[c.Host]; fix != inspect.FixNone {
			reqs = append(reqs, fixflow.Request{Host: c.Host, Fix: fix})
		}
	}
	if len(reqs) == 0 {
		fmt.Fprintln(o.ui(), "Every host skipped: nothing to apply.")
		return nil
	}
	fmt.Fprintln(o.ui())
	return flow.Fix(ctx, reqs)
}

func printCandidates(w io.Writer, cs []fixflow.Candidate) error {
	fmt.Fprintf(w, "%d external %s not registered in the mesh:\n\n", len(cs), plural(len(cs), "host is", "hosts are"))
	rows := make([][]string, len(cs))
	for i, c := range cs {
		rows[i] = []string{c.Host, c.PortList(), table.Dash(c.Protocol), string(c.Disposition), fmt.Sprint(len(c.Pods)), menuName(c.Recommended())}
	}
	if err := table.Write(w, []string{"HOST", "PORTS", "PROTOCOL", "DISPOSITION", "PODS", "RECOMMENDED"}, rows); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// fixMenu is what ask offers for each host, in order; a user answers with the number or the word.
var fixMenu = []struct {
	fix  inspect.Fix
	text string
}{
	{inspect.FixRegister, "a ServiceEntry (own cluster; the app keeps its TLS)"},
	{inspect.FixTLSOrigination, "the sidecar does TLS, the app calls http:// (L7 metrics)"},
	{inspect.FixEgressGateway, "leave the mesh through the egress gateway"},
	{inspect.FixNone, "leave it as it is"},
}

// menuName is how the menu spells a fix: "skip" for none.
func menuName(f inspect.Fix) string {
	if f == inspect.FixNone {
		return "skip"
	}
	return string(f)
}

// ask asks, host by host, which fix to apply; Enter takes the recommendation.
func ask(p *linePrompt, cs []fixflow.Candidate) (map[string]inspect.Fix, error) {
	choices := map[string]inspect.Fix{}
	for i, c := range cs {
		def := c.Recommended()
		fmt.Fprintf(p.out, "\nFix for %s (%d/%d): %s on port %s (%s), from %d %s. Recommended: %s. %s\n",
			c.Host, i+1, len(cs), c.Disposition, c.PortList(), table.Dash(c.Protocol), len(c.Pods), plural(len(c.Pods), "pod", "pods"), menuName(def), c.Reason)
		defNum := 0
		for j, m := range fixMenu {
			fmt.Fprintf(p.out, "  %d) %-16s %s\n", j+1, menuName(m.fix), m.text)
			if m.fix == def {
				defNum = j + 1
			}
		}
		for {
			fmt.Fprintf(p.out, "Choose 1-%d [%d]: ", len(fixMenu), defNum)
			line, err := p.readLine()
			if err != nil {
				return nil, err
			}
			if fix, ok := menuChoice(line, def); ok {
				choices[c.Host] = fix
				fmt.Fprintf(p.out, "%s: %s\n", c.Host, menuName(fix))
				break
			}
			fmt.Fprintf(p.out, "%q is not one of the choices: type a number from 1 to %d, or a name\n", line, len(fixMenu))
		}
	}
	return choices, nil
}

// menuChoice reads an answer: empty for the default, a number, or a choice's name.
func menuChoice(answer string, def inspect.Fix) (inspect.Fix, bool) {
	answer = strings.TrimSpace(answer)
	if answer == "" {
		return def, true
	}
	for j, m := range fixMenu {
		if answer == fmt.Sprint(j+1) || strings.EqualFold(answer, menuName(m.fix)) {
			return m.fix, true
		}
	}
	return "", false
}
