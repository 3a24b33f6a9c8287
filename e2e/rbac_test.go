//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The least-privilege run (KUBECTL_EGRESS_E2E_AS=least-privilege, make e2e-rbac) runs the
// plugin as a ServiceAccount bound to exactly the roles of docs/rbac.yaml, with a token from the
// TokenRequest API; the tests' own setup stays the mesh's admin.
var (
	pluginKubeconfig string // the plugin's kubeconfig in a least-privilege run, else ""
	pluginToken      string // its bearer token
)

// leastPrivilege applies the roles of docs/rbac.yaml, binds them (read and write cluster-wide,
// mesh config in istio-system) to a new ServiceAccount, and writes a kubeconfig with its token.
func leastPrivilege(ctx context.Context, root, dir string) error {
	b, err := os.ReadFile(filepath.Join(root, "docs", "rbac.yaml"))
	if err != nil {
		return err
	}
	var roles []string
	for _, doc := range bytes.Split(b, []byte("\n---\n")) {
		if bytes.Contains(doc, []byte("\nkind: ClusterRole\n")) || bytes.Contains(doc, []byte("\nkind: Role\n")) {
			roles = append(roles, string(doc))
		}
	}
	const ns, sa = "kubectl-egress-e2e", "egress-user"
	subject := fmt.Sprintf("subjects: [{kind: ServiceAccount, name: %s, namespace: %s}]\n", sa, ns)
	bindings := fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: %[2]s, namespace: %[1]s}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: e2e-kubectl-egress-read}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kubectl-egress-read}
%[3]s---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: e2e-kubectl-egress-write}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: kubectl-egress-write}
%[3]s---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: e2e-kubectl-egress-mesh-config, namespace: istio-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: kubectl-egress-mesh-config}
%[3]s`, ns, sa, subject)
	if out, err := kubectlErr(strings.Join(append(roles, bindings), "\n---\n"), "apply", "-f", "-"); err != nil {
		return fmt.Errorf("applying the roles of docs/rbac.yaml: %v: %s", err, out)
	}
	tr, err := lm.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(2 * 3600))},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	pluginToken = tr.Status.Token
	pluginKubeconfig = filepath.Join(dir, "kubeconfig-least-privilege")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: localmesh, cluster: {server: "%s", certificate-authority: "%s"}}]
users: [{name: %s, user: {token: %s}}]
contexts: [{name: localmesh, context: {cluster: localmesh, user: %s}}]
current-context: localmesh
`, lm.Config.Host, lm.Config.TLSClientConfig.CAFile, sa, pluginToken, sa)
	return os.WriteFile(pluginKubeconfig, []byte(cfg), 0o600)
}

// pluginEnv is the environment of a plugin run: the least-privilege kubeconfig when there is one.
func pluginEnv() []string {
	if pluginKubeconfig == "" {
		return os.Environ()
	}
	return append(os.Environ(), "KUBECONFIG="+pluginKubeconfig)
}

// asPlugin is the kubeconfig and token the plugin runs with: the mesh admin's, or the
// least-privilege user's.
func asPlugin() (kubeconfig, token string) {
	if pluginKubeconfig == "" {
		return lm.Kubeconfig, lm.Token
	}
	return pluginKubeconfig, pluginToken
}

func pluginTokenOf() string {
	_, token := asPlugin()
	return token
}
