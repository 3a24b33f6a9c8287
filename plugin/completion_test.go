package plugin

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
)

func TestCompletionScripts(t *testing.T) {
	tests := []struct {
		shell string
		want  []string // lines that show the script is for this shell and completes kubectl-egress
	}{
		{"bash", []string{"# bash completion V2 for kubectl-egress", "__start_kubectl-egress()"}},
		{"zsh", []string{"#compdef kubectl-egress", "compdef _kubectl-egress kubectl-egress"}},
		{"fish", []string{"# fish completion for kubectl-egress", "complete -c kubectl-egress"}},
		{"powershell", []string{"# powershell completion for kubectl-egress", "Register-ArgumentCompleter"}},
	}
	for _, tt := range tests {
		t.Run(tt.shell, func(t *testing.T) {
			streams, _, out, errOut := genericiooptions.NewTestIOStreams()
			cmd := NewCmdEgress(streams)
			cmd.SetArgs([]string{"completion", tt.shell})
			if err := cmd.Execute(); err != nil {
				t.Fatalf("completion %s: %v (stderr %q)", tt.shell, err, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("completion %s output lacks %q", tt.shell, w)
				}
			}
		})
	}
}

func TestCompletionOptionsValidate(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{nil, "name a shell: one of bash, zsh, fish, powershell"},
		{[]string{"tcsh"}, `unsupported shell "tcsh": use one of bash, zsh, fish, powershell`},
		{[]string{"bash", "zsh"}, `unsupported shell "bash zsh": use one of bash, zsh, fish, powershell`},
		{[]string{"zsh"}, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			o := &CompletionOptions{}
			o.Complete(tt.args)
			err := o.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("Validate() = %q, want %q", got, tt.wantErr)
			}
		})
	}
}

// complete runs `kubectl-egress __complete args...` in-process, as kubectl_complete-egress
// does, and returns the candidates without descriptions and the directive line.
func complete(t *testing.T, cmd *cobra.Command, out *bytes.Buffer, args ...string) ([]string, string) {
	t.Helper()
	cmd.SetOut(out)
	cmd.SetArgs(append([]string{cobra.ShellCompRequestCmd}, args...))
	if err := cmd.Execute(); err != nil {
		t.Fatalf("__complete %q: %v", args, err)
	}
	var got []string
	var directive string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if strings.HasPrefix(line, ":") {
			directive = line
			continue
		}
		got = append(got, strings.SplitN(line, "\t", 2)[0])
	}
	return got, directive
}

func TestCompleteCommandsAndShells(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"comp"}, []string{"completion"}},
		{[]string{"ver"}, []string{"verify", "version"}},
		{[]string{"completion", ""}, []string{"bash", "zsh", "fish", "powershell"}},
		{[]string{"completion", "f"}, []string{"fish"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			streams, _, out, _ := genericiooptions.NewTestIOStreams()
			got, _ := complete(t, NewCmdEgress(streams), out, tt.args...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("__complete %q (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

const testKubeconfig = `apiVersion: v1
kind: Config
current-context: shop-admin
contexts:
- name: shop-admin
  context: {cluster: prod, user: admin, namespace: shop}
- name: staging
  context: {cluster: staging, user: dev}
clusters:
- name: prod
  cluster: {server: "https://127.0.0.1:1"}
- name: staging
  cluster: {server: "https://127.0.0.1:2"}
users:
- name: admin
  user: {token: token-a}
- name: dev
  user: {token: token-b}
`

// completionRoot builds a root like NewCmdEgress's, with kubeconfig flags whose completion
// reads objects from a fake clientset, and an `inspect`-like command taking one target.
func completionRoot(t *testing.T, objects ...runtime.Object) (*cobra.Command, *bytes.Buffer) {
	t.Helper()
	kubeconfig := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(kubeconfig, []byte(testKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	flags := genericclioptions.NewConfigFlags(true)
	flags.KubeConfig = &kubeconfig
	client := fake.NewClientset(objects...)
	c := newCompleter(flags, func() (kubernetes.Interface, error) { return client, nil })

	root := &cobra.Command{Use: "kubectl-egress"}
	root.SetErr(streams.ErrOut)
	flags.AddFlags(root.PersistentFlags())
	if err := c.register(root); err != nil {
		t.Fatal(err)
	}
	root.AddCommand(&cobra.Command{
		Use:               "inspect [POD | TYPE/NAME]",
		ValidArgsFunction: c.target,
		RunE:              func(*cobra.Command, []string) error { return nil },
	})
	return root, out
}

func TestCompleteFromCluster(t *testing.T) {
	objects := []runtime.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-public"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-0"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart-7d9f"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "coredns-1"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "coredns"}},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"}},
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"namespaces", []string{"inspect", "-n", ""}, []string{"kube-public", "kube-system", "shop"}},
		{"namespaces by prefix", []string{"inspect", "--namespace", "kube-"}, []string{"kube-public", "kube-system"}},
		{"namespace on the root", []string{"-n", "sh"}, []string{"shop"}},
		{"pods in the context's namespace", []string{"inspect", ""}, []string{"cart-7d9f", "web-0", "web-1"}},
		{"pods by prefix", []string{"inspect", "web"}, []string{"web-0", "web-1"}},
		{"pods in -n", []string{"inspect", "-n", "kube-system", ""}, []string{"coredns-1"}},
		{"deployments", []string{"inspect", "deploy/"}, []string{"deploy/web"}},
		{"deployments in -n", []string{"inspect", "-n", "kube-system", "deployment/co"}, []string{"deployment/coredns"}},
		{"statefulsets", []string{"inspect", "sts/"}, []string{"sts/db"}},
		{"pod/ prefix", []string{"inspect", "pod/cart"}, []string{"pod/cart-7d9f"}},
		{"unknown type", []string{"inspect", "service/"}, nil},
		{"one target only", []string{"inspect", "web-0", ""}, nil},
		{"contexts from kubeconfig", []string{"inspect", "--context", ""}, []string{"shop-admin", "staging"}},
		{"clusters from kubeconfig", []string{"--cluster", "st"}, []string{"staging"}},
		{"users from kubeconfig", []string{"--user", ""}, []string{"admin", "dev"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, out := completionRoot(t, objects...)
			got, directive := complete(t, root, out, tt.args...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("__complete %q (-want +got):\n%s", tt.args, diff)
			}
			if directive != ":4" {
				t.Errorf("__complete %q directive = %q, want :4 (no file completion)", tt.args, directive)
			}
		})
	}
}
