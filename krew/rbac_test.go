package krew

import (
	"bytes"
	"os"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// docs/rbac.yaml must grant what the caveats tell users they need.
func TestRBACGrantsWhatCaveatsSay(t *testing.T) {
	b, err := os.ReadFile("../docs/rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string][]rbacv1.PolicyRule{} // by role name
	bindings := 0
	for _, doc := range bytes.Split(b, []byte("\n---\n")) {
		var head struct{ Kind string }
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatal(err)
		}
		switch head.Kind {
		case "ClusterRole", "Role":
			var r rbacv1.ClusterRole // a Role's fields are a subset
			if err := yaml.UnmarshalStrict(doc, &r); err != nil {
				t.Fatalf("docs/rbac.yaml: %v", err)
			}
			rules[r.Name] = r.Rules
		case "RoleBinding":
			var rb rbacv1.RoleBinding
			if err := yaml.UnmarshalStrict(doc, &rb); err != nil {
				t.Fatalf("docs/rbac.yaml: %v", err)
			}
			if _, ok := rules[rb.RoleRef.Name]; !ok {
				t.Errorf("RoleBinding %s/%s refers to %s %q, not defined above it", rb.Namespace, rb.Name, rb.RoleRef.Kind, rb.RoleRef.Name)
			}
			bindings++
		case "":
		default:
			t.Errorf("docs/rbac.yaml: unexpected kind %q", head.Kind)
		}
	}
	if bindings == 0 {
		t.Error("docs/rbac.yaml has no example RoleBinding")
	}
	istio := []string{"serviceentries", "destinationrules", "virtualservices", "gateways"}
	wants := []struct {
		role, group string
		resources   []string
		verbs       []string
	}{
		{"kubectl-egress-read", "", []string{"pods", "services", "namespaces"}, []string{"get", "list"}},
		{"kubectl-egress-read", "", []string{"pods/portforward"}, []string{"get", "create"}},
		{"kubectl-egress-read", "", []string{"pods/log"}, []string{"get"}},
		{"kubectl-egress-read", "networking.istio.io", append(istio, "sidecars"), []string{"get", "list"}},
		{"kubectl-egress-write", "networking.istio.io", istio, []string{"create", "patch", "update", "delete"}},
		{"kubectl-egress-read", "gateway.networking.k8s.io", []string{"gatewayclasses", "gateways", "httproutes", "tlsroutes"}, []string{"get", "list"}},
		{"kubectl-egress-write", "gateway.networking.k8s.io", []string{"gateways", "httproutes", "tlsroutes"}, []string{"create", "patch", "update", "delete"}},
		{"kubectl-egress-mesh-config", "", []string{"configmaps"}, []string{"get"}},
	}
	for _, w := range wants {
		for _, res := range w.resources {
			for _, verb := range w.verbs {
				if !allows(rules[w.role], w.group, res, verb) {
					t.Errorf("%s does not allow %s on %s.%s", w.role, verb, res, w.group)
				}
			}
		}
	}
	for _, verb := range []string{"create", "patch", "update", "delete"} {
		if allows(rules["kubectl-egress-read"], "networking.istio.io", "serviceentries", verb) {
			t.Errorf("kubectl-egress-read must stay read-only, not %s", verb)
		}
	}
	for role, rs := range rules {
		if allows(rs, "", "secrets", "get") || allows(rs, "", "secrets", "list") {
			t.Errorf("%s reads Secrets", role)
		}
	}
}

func allows(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	return slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool {
		return slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb)
	})
}
