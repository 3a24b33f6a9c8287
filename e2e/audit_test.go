//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// auditEvent is what the test reads of an audit.k8s.io/v1 Event.
type auditEvent struct {
	Verb      string `json:"verb"`
	UserAgent string `json:"userAgent"`
	User      struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource  string `json:"resource"`
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"objectRef"`
}

// pluginEvents returns the audit events the plugin caused since offset (by its user agent).
func pluginEvents(t *testing.T, offset int64) []auditEvent {
	t.Helper()
	f, err := os.Open(lm.AuditLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, 0); err != nil {
		t.Fatal(err)
	}
	var out []auditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit log line: %v", err)
		}
		if strings.HasPrefix(e.UserAgent, "kubectl-egress/") {
			out = append(out, e)
		}
	}
	return out
}

func auditOffset(t *testing.T) int64 {
	t.Helper()
	st, err := os.Stat(lm.AuditLog)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// With the API server's audit log on, every command the plugin has reads no Secret and no
// ConfigMap but Istio's mesh config (ConfigMap istio or istio-REVISION in istio-system).
func TestAuditNoSecretsOrConfigMaps(t *testing.T) {
	const ns = "audit-fix"
	namespace(t, ns)
	offset := auditOffset(t)
	for _, args := range [][]string{
		{"inspect", "-A"},
		{"inspect", "deploy/shop", "-n", "demo-passthrough", "-o", "json"},
		{"inspect", "-n", "demo-passthrough", "--clusters"},
		{"verify", "httpbin.org", "-n", "demo-registered"},
		{"list", "-A"},
		{"register", "api.audit.example", "--port", "443", "--protocol", "TLS", "-n", ns, "--yes"},
		{"enable-tls-origination", "tls.audit.example", "-n", ns, "--dry-run=server"},
		{"undo", "api.audit.example", "-n", ns, "--yes"},
		{"policy", "-A"},
		{"policy", "-n", "demo-passthrough", "-o", "json"},
		{"lockdown", "-n", "demo-passthrough", "--dry-run=server"},
		{"logging", "on", "-n", ns, "--dry-run=server"},
	} {
		egress(t, args...)
	}
	events := pluginEvents(t, offset)
	if len(events) < 20 {
		t.Fatalf("only %d audit events from the plugin: is the audit log on?", len(events))
	}
	resources := map[string]bool{}
	for _, e := range events {
		if e.ObjectRef == nil {
			continue
		}
		o := e.ObjectRef
		resources[o.Resource] = true
		switch {
		case o.Resource == "secrets":
			t.Errorf("the plugin %s secrets %s/%s", e.Verb, o.Namespace, o.Name)
		case o.Resource == "configmaps" && !(e.Verb == "get" && o.Namespace == "istio-system" && (o.Name == "istio" || strings.HasPrefix(o.Name, "istio-"))):
			t.Errorf("the plugin %s configmaps %s/%s, which is not Istio's mesh config", e.Verb, o.Namespace, o.Name)
		}
	}
	t.Logf("%d audit events from the plugin, on %d resources", len(events), len(resources))
}
