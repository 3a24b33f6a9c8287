package mesh

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	istioAPIModule = "istio.io/api@v1.31.1"
	kwokModule     = "sigs.k8s.io/kwok@v0.8.0"
)

// installCRDs applies Istio's real CRDs (from istio.io/api), the Gateway API's (from its module)
// and kwok's PortForward/Logs CRDs.
func (m *Mesh) installCRDs(ctx context.Context) error {
	istioDir, err := moduleDir(ctx, istioAPIModule)
	if err != nil {
		return err
	}
	kwokDir, err := moduleDir(ctx, kwokModule)
	if err != nil {
		return err
	}
	files := []string{filepath.Join(istioDir, "kubernetes", "customresourcedefinitions.gen.yaml")}
	gatewayAPI, err := gatewayAPICRDFiles(ctx)
	if err != nil {
		return err
	}
	files = append(files, gatewayAPI...)
	for _, crd := range []string{"portforwards", "clusterportforwards", "logs", "clusterlogs"} {
		files = append(files, filepath.Join(kwokDir, "kustomize", "crd", "bases", "kwok.x-k8s.io_"+crd+".yaml"))
	}
	args := []string{"apply", "--server-side"}
	for _, f := range files {
		args = append(args, "-f", f)
	}
	// The API server may still be installing its own bootstrap objects: retry briefly.
	var lastErr error
	for range 20 {
		if _, lastErr = m.kubectl(ctx, "", args...); lastErr == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if lastErr != nil {
		return lastErr
	}
	_, err = m.kubectl(ctx, "", "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
	return err
}

// kwokStages are the stages of kwok's module the mesh runs. A real kubelet renews its node's
// Lease and Ready condition; without a heartbeat, kube-controller-manager's node lifecycle
// controller marks the node Ready=Unknown after its 50 s grace period, node-initialize matches
// again and re-renders the status. Its template then writes `addresses:` with no items when the
// node has an InternalIP but no Hostname address, and that null, in a strategic merge patch,
// deletes every address: port-forward and logs fail ("no preferred addresses found") until the
// next round adds the InternalIP back. node-heartbeat-with-lease, with kwok's node leases on,
// keeps the node Ready as a kubelet would, so node-initialize runs once.
var kwokStages = []string{
	"node/fast/node-initialize.yaml",
	"node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
	"pod/fast/pod-ready.yaml",
	"pod/fast/pod-complete.yaml",
	"pod/fast/pod-delete.yaml",
}

// startKwok runs kwok as the kubelet of one fake node, serving port-forward and logs.
func (m *Mesh) startKwok(ctx context.Context, port int) error {
	kwokDir, err := moduleDir(ctx, kwokModule)
	if err != nil {
		return err
	}
	var stages []string
	for _, s := range kwokStages {
		b, err := os.ReadFile(filepath.Join(kwokDir, "kustomize", "stage", s))
		if err != nil {
			return err
		}
		stages = append(stages, strings.TrimSpace(string(b)))
	}
	stagesFile := filepath.Join(m.opts.Dir, "kwok-stages.yaml")
	if err := os.WriteFile(stagesFile, []byte(strings.Join(stages, "\n---\n")+"\n"), 0o644); err != nil {
		return err
	}
	kwok, err := startProcess(m.opts.Dir, "kwok", filepath.Join(m.opts.Tools, "kwok"), []string{
		"--kubeconfig=" + m.Kubeconfig, "--config=" + stagesFile,
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--node-ip=127.0.0.1", "--node-port=" + itoa(port), "--server-address=127.0.0.1:" + itoa(port),
		"--cidr=10.0.0.0/16", "--enable-crds=PortForward,ClusterPortForward,Logs,ClusterLogs",
		// A Lease per node in kube-node-lease, renewed like a kubelet's (the node lifecycle
		// controller's liveness signal).
		"--node-lease-duration-seconds=40",
		// The node's Hostname address: with both addresses present, node-initialize never writes
		// the bare `addresses:` that would delete them, should it ever run again.
		"--node-name=" + nodeName,
	}, nil)
	if err != nil {
		return err
	}
	m.procs = append(m.procs, kwok)
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        nodeName,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
			Labels:      map[string]string{"type": "kwok", "kubernetes.io/hostname": nodeName},
		},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "kwok.x-k8s.io/node", Value: "fake", Effect: corev1.TaintEffectNoSchedule}}},
	}
	if _, err := m.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("failed to create node %s: %w", nodeName, err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		n, err := m.Client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err == nil {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return nil
				}
			}
		}
		select {
		case <-kwok.done:
			return fmt.Errorf("kwok exited (%v); see %s", kwok.err, kwok.log)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("node %s not Ready after 60s; see %s", nodeName, kwok.log)
}
