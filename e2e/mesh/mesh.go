// Package mesh runs the project's local Istio mesh on loopback: a real etcd, kube-apiserver and
// kube-controller-manager, Istio's real CRDs, a real istiod, kwok as the kubelet of a fake node,
// and one sidecar stand-in per pod serving the Envoy admin API from the live xDS istiod pushes.
// It is test infrastructure: the plugin never imports it.
package mesh

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Options say where the mesh lives and what it runs.
type Options struct {
	Dir   string // state: etcd data, certs, logs, kubeconfig, sidecar logs
	Tools string // directory with etcd, kube-apiserver, kube-controller-manager, istiod, kwok (hack/tools.sh)
	Fleet int    // pods in namespace demo-fleet, for scale work
	// ServiceEntries are external ServiceEntries in namespace demo-scale, exported to every
	// namespace, so istiod generates a big mesh's configuration for every proxy.
	ServiceEntries int
	// ReplayEvery makes every stand-in replay its pod's calls again at this interval, so a
	// running mesh shows the effect of a change in fresh traffic; 0 replays once, at sync.
	ReplayEvery time.Duration
	// Log receives progress lines; nil discards them.
	Log func(format string, args ...any)
}

// Mesh is a running local mesh.
type Mesh struct {
	opts       Options
	Kubeconfig string
	Token      string
	APIPort    int
	XDSAddr    string // istiod's plaintext xDS
	IstiodHTTP string // istiod's debug/ready endpoint
	procs      []*process
	Config     *rest.Config
	Client     kubernetes.Interface
	Dynamic    dynamic.Interface
	Sidecars   *Sidecars
	// AuditLog is the API server's audit log (JSON lines; see audit.go for what it records).
	AuditLog string
	started  time.Time
}

const nodeName = "kwok-node-0"

// Up starts every component and the scenarios, and returns once every scenario pod runs with a
// synced sidecar stand-in.
func Up(ctx context.Context, opts Options) (_ *Mesh, err error) {
	if opts.Log == nil {
		opts.Log = func(string, ...any) {}
	}
	m := &Mesh{opts: opts, started: time.Now()}
	defer func() {
		if err != nil {
			m.Down()
		}
	}()
	for _, d := range []string{"certs", "logs", "etcd", "sidecars"} {
		if err := os.MkdirAll(filepath.Join(opts.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	ports, err := freePorts(10)
	if err != nil {
		return nil, err
	}
	etcdPort, peerPort, apiPort := ports[0], ports[1], ports[2]
	istiodHTTP, istiodXDS, istiodP1, istiodP2, istiodMon, ctrlz, kwokPort := ports[3], ports[4], ports[5], ports[6], ports[7], ports[8], ports[9]
	m.APIPort = apiPort

	step := func(name string) func() {
		start := time.Now()
		return func() { opts.Log("%-28s %5.1fs", name, time.Since(start).Seconds()) }
	}

	done := step("etcd")
	etcd, err := startProcess(opts.Dir, "etcd", filepath.Join(opts.Tools, "etcd"), []string{
		"--name", "localmesh", "--data-dir", filepath.Join(opts.Dir, "etcd"),
		"--listen-client-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPort),
		"--advertise-client-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPort),
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peerPort),
		"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", peerPort),
		"--initial-cluster", fmt.Sprintf("localmesh=http://127.0.0.1:%d", peerPort),
		"--unsafe-no-fsync", "--listen-metrics-urls", "",
	}, nil)
	if err != nil {
		return nil, err
	}
	m.procs = append(m.procs, etcd)
	if err := etcd.waitHTTP(ctx, fmt.Sprintf("http://127.0.0.1:%d/health", etcdPort)); err != nil {
		return nil, err
	}
	done()

	done = step("kube-apiserver")
	certs := filepath.Join(opts.Dir, "certs")
	pub, priv, err := writeServiceAccountKeys(certs)
	if err != nil {
		return nil, err
	}
	m.Token = randomToken()
	tokens := filepath.Join(certs, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(m.Token+",admin,admin-uid,system:masters\n"), 0o600); err != nil {
		return nil, err
	}
	audit, err := m.auditFlags(opts.Dir)
	if err != nil {
		return nil, err
	}
	api, err := startProcess(opts.Dir, "kube-apiserver", filepath.Join(opts.Tools, "kube-apiserver"), append([]string{
		"--etcd-servers", fmt.Sprintf("http://127.0.0.1:%d", etcdPort),
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=" + itoa(apiPort),
		"--cert-dir=" + certs, "--token-auth-file=" + tokens,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + pub, "--service-account-signing-key-file=" + priv,
		"--service-cluster-ip-range=10.96.0.0/16", "--authorization-mode=Node,RBAC",
		"--endpoint-reconciler-type=none", "--kubelet-preferred-address-types=InternalIP",
		"--allow-privileged=true", "--profiling=false",
	}, audit...), nil)
	if err != nil {
		return nil, err
	}
	m.procs = append(m.procs, api)
	if err := api.waitHTTP(ctx, fmt.Sprintf("https://127.0.0.1:%d/readyz", apiPort)); err != nil {
		return nil, err
	}
	m.Kubeconfig = filepath.Join(opts.Dir, "kubeconfig")
	if err := writeKubeconfig(m.Kubeconfig, apiPort, filepath.Join(certs, "apiserver.crt"), "admin", m.Token); err != nil {
		return nil, err
	}
	if m.Config, err = clientcmd.BuildConfigFromFlags("", m.Kubeconfig); err != nil {
		return nil, err
	}
	m.Config.QPS, m.Config.Burst = 500, 1000
	if m.Client, err = kubernetes.NewForConfig(m.Config); err != nil {
		return nil, err
	}
	if m.Dynamic, err = dynamic.NewForConfig(m.Config); err != nil {
		return nil, err
	}
	done()

	done = step("kube-controller-manager")
	kcm, err := startProcess(opts.Dir, "kube-controller-manager", filepath.Join(opts.Tools, "kube-controller-manager"), []string{
		"--kubeconfig=" + m.Kubeconfig, "--leader-elect=false", "--secure-port=0",
		"--service-account-private-key-file=" + priv, "--root-ca-file=" + filepath.Join(certs, "apiserver.crt"),
		"--use-service-account-credentials=false", "--kube-api-qps=500", "--kube-api-burst=1000",
		// Only what pods, workloads, namespaces and the one node need (node lifecycle lifts the
		// not-ready taint once kwok reports the node Ready, so the scheduler can use it).
		"--controllers=" + strings.Join([]string{"deployment-controller", "replicaset-controller", "statefulset-controller",
			"daemonset-controller", "job-controller", "endpoints-controller", "endpointslice-controller",
			"serviceaccount-controller", "serviceaccount-token-controller", "namespace-controller",
			"garbage-collector-controller", "root-ca-certificate-publisher-controller", "pod-garbage-collector-controller",
			"node-lifecycle-controller"}, ","),
	}, nil)
	if err != nil {
		return nil, err
	}
	m.procs = append(m.procs, kcm)
	done()

	done = step("kube-scheduler")
	sched, err := startProcess(opts.Dir, "kube-scheduler", filepath.Join(opts.Tools, "kube-scheduler"), []string{
		"--kubeconfig=" + m.Kubeconfig, "--leader-elect=false", "--secure-port=0",
		"--kube-api-qps=500", "--kube-api-burst=1000",
	}, nil)
	if err != nil {
		return nil, err
	}
	m.procs = append(m.procs, sched)
	done()

	done = step("CRDs (Istio, kwok)")
	if err := m.installCRDs(ctx); err != nil {
		return nil, err
	}
	done()

	done = step("istiod")
	injector, err := injectorManifest(ctx)
	if err != nil {
		return nil, err
	}
	// istiod reads the injector's ConfigMap only at start-up: it must exist before.
	if err := m.applyManifest(ctx, "", meshConfigManifest+"---\n"+injector); err != nil {
		return nil, err
	}
	istiodEnv := []string{
		"POD_NAMESPACE=istio-system", "POD_NAME=istiod-local", "REVISION=default",
		"INJECTION_WEBHOOK_CONFIG_NAME=", "VALIDATION_WEBHOOK_CONFIG_NAME=", "ISTIOD_CUSTOM_HOST=localhost",
		"PILOT_MAX_REQUESTS_PER_SECOND=1000",
		// Ambient mode: workload discovery for ztunnel, and waypoints.
		"PILOT_ENABLE_AMBIENT=true",
	}
	if opts.Fleet > 0 {
		// ServiceEntries get addresses allocated (Istio's default since 1.25: ztunnel knows an
		// external host only by the address its DNS proxy hands out), but the allocator's status
		// writes make a push storm when a fleet's proxies are connected (RECIPES, scale).
		istiodEnv = append(istiodEnv, "PILOT_ENABLE_IP_AUTOALLOCATE=false")
	}
	istiod, err := startProcess(opts.Dir, "istiod", filepath.Join(opts.Tools, "istiod"), []string{
		"discovery", "--kubeconfig=" + m.Kubeconfig, "--meshConfig=/nonexistent", "--networksConfig=/nonexistent",
		"--httpAddr=127.0.0.1:" + itoa(istiodHTTP), "--httpsAddr=127.0.0.1:" + itoa(istiodP1),
		"--grpcAddr=127.0.0.1:" + itoa(istiodXDS), "--secureGRPCAddr=127.0.0.1:" + itoa(istiodP2),
		"--monitoringAddr=127.0.0.1:" + itoa(istiodMon), "--ctrlz_port=" + itoa(ctrlz),
		"--domain=cluster.local", "--clusterID=Kubernetes",
	}, istiodEnv)
	if err != nil {
		return nil, err
	}
	m.procs = append(m.procs, istiod)
	m.XDSAddr = fmt.Sprintf("127.0.0.1:%d", istiodXDS)
	m.IstiodHTTP = fmt.Sprintf("http://127.0.0.1:%d", istiodHTTP)
	if err := istiod.waitHTTP(ctx, m.IstiodHTTP+"/ready"); err != nil {
		return nil, err
	}
	done()

	done = step("kwok and node")
	if err := m.startKwok(ctx, kwokPort); err != nil {
		return nil, err
	}
	done()

	done = step("scenarios")
	m.Sidecars = newSidecars(m)
	if err := m.Sidecars.start(ctx); err != nil {
		return nil, err
	}
	if err := m.applyScenarios(ctx); err != nil {
		return nil, err
	}
	if err := m.Sidecars.waitExpected(ctx, m.expectedPods()); err != nil {
		return nil, err
	}
	done()
	opts.Log("%-28s %5.1fs", "local mesh up", time.Since(m.started).Seconds())
	return m, nil
}

// Down stops the stand-ins and every process, newest first.
func (m *Mesh) Down() {
	if m.Sidecars != nil {
		m.Sidecars.stop()
	}
	for i := len(m.procs) - 1; i >= 0; i-- {
		m.procs[i].stop()
	}
	m.procs = nil
}

// Started is when Up began.
func (m *Mesh) Started() time.Time { return m.started }

// Dir is where the mesh keeps its state.
func (m *Mesh) Dir() string { return m.opts.Dir }
