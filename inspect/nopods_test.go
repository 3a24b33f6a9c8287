package inspect

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// A scope that matches no pod says what it looked for, and whether its namespace exists.
func TestNoPods(t *testing.T) {
	client := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}})
	tests := []struct {
		name  string
		scope Scope
		want  string
	}{
		{"missing namespace", Scope{Namespace: "nosuchns"},
			"no pods found in namespace nosuchns: namespace nosuchns does not exist (kubectl get namespaces lists them)"},
		{"empty namespace", Scope{Namespace: "shop"},
			"no pods found in namespace shop: the namespace exists but has no such pods; check the names and -l, or pass -A"},
		{"selector", Scope{Namespace: "shop", Selector: "app=web"},
			"no pods found matching -l app=web in namespace shop: the namespace exists but has no such pods; check the names and -l, or pass -A"},
		{"workload", Scope{Namespace: "shop", Args: []string{"deploy/web"}},
			"no pods found for deploy/web in namespace shop: the namespace exists but has no such pods; check the names and -l, or pass -A"},
		{"all namespaces", Scope{AllNamespaces: true, Selector: "app=web"}, "no pods found matching -l app=web in any namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := noPods(context.Background(), client, tt.scope).Error()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
