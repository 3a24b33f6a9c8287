package mesh

import (
	"os"
	"path/filepath"
)

// auditPolicy logs who did what to which object (Metadata level: no bodies) for every request
// but watches, and nothing of the control plane's own chatter: enough for a test to prove which
// resources a client read.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  verbs: [watch]
- level: None
  users: [system:kube-controller-manager, system:kube-scheduler, system:apiserver]
- level: None
  userGroups: [system:nodes]
- level: Metadata
`

// auditFlags writes the policy into dir and returns the kube-apiserver flags that log by it
// to AuditLog.
func (m *Mesh) auditFlags(dir string) ([]string, error) {
	policy := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o644); err != nil {
		return nil, err
	}
	m.AuditLog = filepath.Join(dir, "logs", "audit.log")
	return []string{"--audit-policy-file=" + policy, "--audit-log-path=" + m.AuditLog, "--audit-log-maxbackup=1", "--audit-log-maxsize=500"}, nil
}
