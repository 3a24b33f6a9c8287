package plugin

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
)

// completionTimeout bounds every cluster call made while the user waits on TAB.
const completionTimeout = 5 * time.Second

var completionShells = []string{"bash", "zsh", "fish", "powershell"}

// CompletionOptions prints a shell completion script.
type CompletionOptions struct {
	Shell string
	genericiooptions.IOStreams
}

// NewCmdCompletion returns `kubectl egress completion SHELL`.
func NewCmdCompletion(streams genericiooptions.IOStreams) *cobra.Command {
	o := &CompletionOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print a shell completion script for kubectl-egress.

kubectl 1.26 and later complete plugins themselves: for "kubectl egress <TAB>", put the
kubectl_complete-egress script from the repository on your PATH next to kubectl-egress; it
hands the words to this plugin. The scripts printed here complete the kubectl-egress binary
when you call it by that name.`,
		Example: `  # Complete kubectl-egress in the current bash session
  source <(kubectl egress completion bash)

  # Install completion for zsh
  kubectl egress completion zsh > "${fpath[1]}/_kubectl-egress"

  # Install completion for fish
  kubectl egress completion fish > ~/.config/fish/completions/kubectl-egress.fish

  # Complete kubectl-egress in PowerShell
  kubectl egress completion powershell | Out-String | Invoke-Expression`,
		ValidArgs:             completionShells,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Complete(args)
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Root())
		},
	}
	return cmd
}

// Complete takes the shell from the arguments.
func (o *CompletionOptions) Complete(args []string) {
	if len(args) == 1 {
		o.Shell = args[0]
	} else if len(args) > 1 {
		o.Shell = strings.Join(args, " ")
	}
}

// Validate checks that the shell is one cobra writes scripts for.
func (o *CompletionOptions) Validate() error {
	if o.Shell == "" {
		return fmt.Errorf("name a shell: one of %s", strings.Join(completionShells, ", "))
	}
	if !slices.Contains(completionShells, o.Shell) {
		return fmt.Errorf("unsupported shell %q: use one of %s", o.Shell, strings.Join(completionShells, ", "))
	}
	return nil
}

// Run writes root's completion script for the shell, with descriptions.
func (o *CompletionOptions) Run(root *cobra.Command) error {
	switch o.Shell {
	case "bash":
		return root.GenBashCompletionV2(o.Out, true)
	case "zsh":
		return root.GenZshCompletion(o.Out)
	case "fish":
		return root.GenFishCompletion(o.Out, true)
	default:
		return root.GenPowerShellCompletionWithDesc(o.Out)
	}
}

// RegisterCompletions completes the kubeconfig flags of root: namespace names for -n from the
// cluster, and context, cluster and user names from the kubeconfig.
func RegisterCompletions(root *cobra.Command, f *genericclioptions.ConfigFlags) error {
	return newCompleter(f, clientsetFor(f)).register(root)
}

// CompleteTarget completes a POD or TYPE/NAME argument from the cluster; set it as the
// ValidArgsFunction of commands that take one.
func CompleteTarget(f genericclioptions.RESTClientGetter) cobra.CompletionFunc {
	return newCompleter(f, clientsetFor(f)).target
}

// completer answers completion requests; the clientset is a function so that tests can hand
// in a fake one, and so that nothing connects until the user presses TAB.
type completer struct {
	flags     genericclioptions.RESTClientGetter
	clientset func() (kubernetes.Interface, error)
}

func newCompleter(f genericclioptions.RESTClientGetter, clientset func() (kubernetes.Interface, error)) *completer {
	return &completer{flags: f, clientset: clientset}
}

func clientsetFor(f genericclioptions.RESTClientGetter) func() (kubernetes.Interface, error) {
	return func() (kubernetes.Interface, error) {
		cfg, err := f.ToRESTConfig()
		if err != nil {
			return nil, err
		}
		cfg.Timeout = completionTimeout
		return kubernetes.NewForConfig(cfg)
	}
}

func (c *completer) register(root *cobra.Command) error {
	for flag, fn := range map[string]cobra.CompletionFunc{
		"namespace": c.namespace,
		"context":   c.kubeconfigNames(func(n kubeconfigNames) []string { return n.contexts }),
		"cluster":   c.kubeconfigNames(func(n kubeconfigNames) []string { return n.clusters }),
		"user":      c.kubeconfigNames(func(n kubeconfigNames) []string { return n.users }),
	} {
		if err := root.RegisterFlagCompletionFunc(flag, fn); err != nil {
			return fmt.Errorf("failed to register completion of --%s: %w", flag, err)
		}
	}
	return nil
}

// namespace completes -n with the namespaces the user may list.
func (c *completer) namespace(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	client, err := c.clientset()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := context.WithTimeout(commandContext(cmd), completionTimeout)
	defer cancel()
	list, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names, err := objectNames(list)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return withPrefix(names, "", toComplete), cobra.ShellCompDirectiveNoFileComp
}

// lister lists one kind of object in a namespace.
type lister func(ctx context.Context, c kubernetes.Interface, ns string) (runtime.Object, error)

func listPods(ctx context.Context, c kubernetes.Interface, ns string) (runtime.Object, error) {
	return c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
}

func listDeployments(ctx context.Context, c kubernetes.Interface, ns string) (runtime.Object, error) {
	return c.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
}

func listStatefulSets(ctx context.Context, c kubernetes.Interface, ns string) (runtime.Object, error) {
	return c.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
}

func listDaemonSets(ctx context.Context, c kubernetes.Interface, ns string) (runtime.Object, error) {
	return c.AppsV1().DaemonSets(ns).List(ctx, metav1.ListOptions{})
}

func listReplicaSets(ctx context.Context, c kubernetes.Interface, ns string) (runtime.Object, error) {
	return c.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
}

// workloadKinds are the TYPE spellings a TYPE/NAME target accepts, kubectl's short names
// included.
var workloadKinds = map[string]lister{
	"pod": listPods, "pods": listPods, "po": listPods,
	"deployment": listDeployments, "deployments": listDeployments, "deploy": listDeployments,
	"statefulset": listStatefulSets, "statefulsets": listStatefulSets, "sts": listStatefulSets,
	"daemonset": listDaemonSets, "daemonsets": listDaemonSets, "ds": listDaemonSets,
	"replicaset": listReplicaSets, "replicasets": listReplicaSets, "rs": listReplicaSets,
}

// target completes the first argument: pod names, or TYPE/NAME once a known TYPE/ is typed.
func (c *completer) target(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	list, prefix, name := lister(listPods), "", toComplete
	if kind, rest, ok := strings.Cut(toComplete, "/"); ok {
		if list, ok = workloadKinds[strings.ToLower(kind)]; !ok {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		prefix, name = kind+"/", rest
	}
	client, err := c.clientset()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ns, _, err := c.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := context.WithTimeout(commandContext(cmd), completionTimeout)
	defer cancel()
	objects, err := list(ctx, client, ns)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names, err := objectNames(objects)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return withPrefix(names, prefix, name), cobra.ShellCompDirectiveNoFileComp
}

type kubeconfigNames struct{ contexts, clusters, users []string }

// kubeconfigNames completes a flag from the names in the kubeconfig; no cluster is contacted.
func (c *completer) kubeconfigNames(pick func(kubeconfigNames) []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		raw, err := c.flags.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var n kubeconfigNames
		for name := range raw.Contexts {
			n.contexts = append(n.contexts, name)
		}
		for name := range raw.Clusters {
			n.clusters = append(n.clusters, name)
		}
		for name := range raw.AuthInfos {
			n.users = append(n.users, name)
		}
		return withPrefix(pick(n), "", toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// withPrefix returns prefix+name for the names starting with toComplete, sorted.
func withPrefix(names []string, prefix, toComplete string) []cobra.Completion {
	var out []cobra.Completion
	for _, n := range names {
		if strings.HasPrefix(n, toComplete) {
			out = append(out, prefix+n)
		}
	}
	slices.Sort(out)
	return out
}

func commandContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// objectNames returns the names of the items in a typed list.
func objectNames(list runtime.Object) ([]string, error) {
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, item := range items {
		m, err := meta.Accessor(item)
		if err != nil {
			return nil, err
		}
		names = append(names, m.GetName())
	}
	return names, nil
}
