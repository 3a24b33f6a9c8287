package fixflow

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	networkingk8s "k8s.io/api/networking/v1"

	"github.com/kubectl-egress/kubectl-egress/inspect"
	"github.com/kubectl-egress/kubectl-egress/policy"
	"github.com/kubectl-egress/kubectl-egress/remedy"
)

// Lockdown says what `kubectl egress lockdown` takes to REGISTRY_ONLY.
type Lockdown struct {
	// Workload is the one workload to lock down first (a canary), as TYPE/NAME; "" is every
	// workload of the namespace.
	Workload string
	// NetworkPolicy (--lock) also writes a NetworkPolicy so the pods leave the cluster only
	// through the egress gateway; the hosts that would break are then routed through the gateway
	// instead of registered.
	NetworkPolicy bool
	// Gateway is the egress gateway Service, NAMESPACE/NAME ("" is DefaultEgressGateway).
	Gateway string
	// IstioNamespace holds the mesh ConfigMaps ("" is istio-system).
	IstioNamespace string
}

// labelsNotSelecting are pod labels a workload's controller or Istio's injector adds: a
// workloadSelector built from them would match one generation of pods only, or every pod.
var labelsNotSelecting = []string{"pod-template-hash", "controller-revision-hash", "pod-template-generation",
	"statefulset.kubernetes.io/pod-name", "apps.kubernetes.io/pod-index", "security.istio.io/tlsMode",
	"service.istio.io/canonical-name", "service.istio.io/canonical-revision"}

// Lockdown observes the namespace's proxies, reads the effective policy, and plans, all in one
// run: a fix for every host REGISTRY_ONLY would break (a ServiceEntry, or gateway routing with
// --lock), then the Sidecar that switches to REGISTRY_ONLY (and the NetworkPolicy). It refuses
// when a host could not be named, when the namespace has a Sidecar kubectl-egress does not manage
// (Force overrides), and always when that Sidecar would shadow the lockdown's.
func (f *Flow) Lockdown(ctx context.Context, l Lockdown) error {
	obs := f.Observe(ctx)
	if len(obs.Pods) == 0 {
		return fmt.Errorf("no pod with a sidecar to lock down in namespace %s%s", f.cfg.Namespace, forWorkload(l.Workload))
	}
	gateway := l.Gateway
	if gateway == "" {
		gateway = DefaultEgressGateway
	}
	in, err := policy.Gather(ctx, f.getter, obs.Pods, policy.GatherOptions{IstioNamespace: l.IstioNamespace, Gateway: gateway})
	if err != nil {
		return err
	}
	for _, w := range in.Warnings {
		f.warnf("%s", w)
	}
	now := f.now()
	report := policy.Evaluate(in, now)
	var workloads []policy.WorkloadPolicy
	for _, ns := range report.Namespaces {
		for _, w := range ns.Workloads {
			if ns.Namespace == f.cfg.Namespace && (l.Workload == "" || w.Workload == l.Workload) {
				workloads = append(workloads, w)
			}
		}
	}
	if len(workloads) == 0 {
		return fmt.Errorf("no workload %s with a sidecar in namespace %s: name it as inspect --pods shows it (deploy/NAME)", l.Workload, f.cfg.Namespace)
	}
	for _, w := range workloads {
		if w.Ambient {
			return fmt.Errorf("refusing to lock down %s in namespace %s: it is in ambient mode, where ztunnel enforces no outbound traffic policy (REGISTRY_ONLY and Sidecars do not apply); register the hosts it calls (kubectl egress register HOST -n %s binds them to a waypoint) and restrict them with an AuthorizationPolicy",
				w.Workload, f.cfg.Namespace, f.cfg.Namespace)
		}
	}
	if err := f.checkSidecars(in, l); err != nil {
		return err
	}

	reqs, unknown := lockdownRequests(workloads, l.NetworkPolicy, gateway)
	if unknown > 0 && !f.cfg.Force {
		return fmt.Errorf("refusing to lock down namespace %s%s: %d connections went to hosts no signal could name (TCP without SNI, no access log), and REGISTRY_ONLY would break them; turn access logging on (kubectl egress logging on -n %s), let the app call, and run again, or pass --force to lock down anyway",
			f.cfg.Namespace, forWorkload(l.Workload), unknown, f.cfg.Namespace)
	}
	plans, refused, err := f.Plan(ctx, reqs)
	if err != nil {
		return err
	}
	if len(refused) > 0 {
		var why []string
		for _, r := range refused {
			why = append(why, fmt.Sprintf("%s: %v", r.Request.NormalizedHost(), r.Err))
		}
		return fmt.Errorf("refusing to lock down namespace %s%s: %d of the hosts it calls cannot be fixed first (%s); fix them by hand, then run again",
			f.cfg.Namespace, forWorkload(l.Workload), len(refused), strings.Join(why, "; "))
	}
	ex, err := f.existingObjects(ctx)
	if err != nil {
		return err
	}
	opts := remedy.LockdownOptions{NetworkPolicy: l.NetworkPolicy}
	if l.Workload != "" {
		opts.Workload = l.Workload
		opts.WorkloadSelector = commonLabels(obs.Pods, l.Workload)
	}
	if sc := workloads[0].Sidecar; sc != nil && !sc.Managed {
		opts.EgressHosts = sc.EgressHosts // change the mode, not what the proxies see
	}
	lock, err := remedy.PlanLockdown(f.target(), opts, ex)
	if err != nil {
		return err
	}
	for _, obj := range lock.Objects {
		if np, ok := obj.(*networkingk8s.NetworkPolicy); ok {
			// What the planned NetworkPolicy cuts of what the pods do today: registered hosts that
			// leave directly stay cut after the lockdown too.
			in.NetworkPolicies = append(in.NetworkPolicies, np)
			for _, ns := range policy.Evaluate(in, now).Namespaces {
				// Passthrough hosts are routed through the gateway by this run; the others leave
				// directly today and stay cut.
				cuts := slices.DeleteFunc(ns.NetworkPolicy.Cuts, func(c string) bool { return strings.HasSuffix(c, "(passthrough)") })
				if ns.Namespace == f.cfg.Namespace && len(cuts) > 0 {
					lock.Warnings = append(lock.Warnings, "the NetworkPolicy cuts what leaves today without the egress gateway and this run does not route through it: "+
						strings.Join(cuts, ", ")+"; route them with route-via-gateway, or they stop working")
				}
			}
		}
	}
	if len(plans) == 0 {
		fmt.Fprintf(f.cfg.ErrOut, "Nothing would break in namespace %s%s: only the lockdown itself is planned.\n", f.cfg.Namespace, forWorkload(l.Workload))
	}
	return f.Run(ctx, append(plans, lock))
}

// lockdownRequests are the fixes for every host the workloads would lose, each host once with
// all its ports; unknown counts the calls to hosts nobody could name.
func lockdownRequests(workloads []policy.WorkloadPolicy, viaGateway bool, gateway string) ([]Request, int64) {
	ports := map[string][]remedy.Port{}
	var unknown int64
	for _, w := range workloads {
		for _, fd := range w.WouldBreak {
			if fd.Host == "unknown" || fd.Host == "" {
				unknown += fd.Calls.Connections + fd.Calls.Requests
				continue
			}
			if fd.Port == 0 {
				continue // metrics only: the host's ported rows carry it
			}
			p := remedy.Port{Number: fd.Port, Protocol: ServiceEntryProtocol(inspect.Destination{Port: fd.Port, Protocol: fd.Protocol})}
			if !slices.ContainsFunc(ports[fd.Host], func(q remedy.Port) bool { return q.Number == p.Number }) {
				ports[fd.Host] = append(ports[fd.Host], p)
			}
		}
	}
	var reqs []Request
	for _, host := range slices.Sorted(maps.Keys(ports)) {
		if viaGateway {
			reqs = append(reqs, Request{Host: host, Fix: inspect.FixEgressGateway, Gateway: gateway})
			continue
		}
		reqs = append(reqs, Request{Host: host, Fix: inspect.FixRegister, Ports: ports[host]})
	}
	return reqs, unknown
}

// errShadowed is the refusal no flag overrides: the lockdown's Sidecar would not apply.
var errShadowed = errors.New("the lockdown's Sidecar would be shadowed")

// checkSidecars refuses when the namespace has a Sidecar kubectl-egress does not manage that
// the lockdown would meet: Force goes on, unless that Sidecar would still apply instead of the
// lockdown's (Istio takes the oldest), which nothing can override.
func (f *Flow) checkSidecars(in policy.Inputs, l Lockdown) error {
	for _, sc := range in.Sidecars {
		if sc.Namespace != f.cfg.Namespace || sc.Labels["app.kubernetes.io/managed-by"] == "kubectl-egress" {
			continue
		}
		ref := sc.Namespace + "/" + sc.Name
		selectorless := sc.Spec.GetWorkloadSelector() == nil
		if l.Workload == "" && selectorless || l.Workload != "" && !selectorless && selectsWorkload(sc, in, l.Workload) {
			return fmt.Errorf("refusing to lock down namespace %s%s: Sidecar %s, which kubectl-egress does not manage, is older, so %w (Istio applies the oldest); set outboundTrafficPolicy.mode: REGISTRY_ONLY in it yourself, or remove it and run again",
				f.cfg.Namespace, forWorkload(l.Workload), ref, errShadowed)
		}
		if !f.cfg.Force {
			return fmt.Errorf("refusing to lock down namespace %s%s: it has Sidecar %s, which kubectl-egress does not manage (its pods keep that Sidecar's settings); pass --force to add the lockdown's Sidecar beside it",
				f.cfg.Namespace, forWorkload(l.Workload), ref)
		}
	}
	return nil
}

func selectsWorkload(sc *networkingv1.Sidecar, in policy.Inputs, workload string) bool {
	for _, p := range in.Pods {
		if p.Pod.Workload == workload {
			if got, _ := policy.SidecarFor([]*networkingv1.Sidecar{sc}, p.Pod.Namespace, p.Pod.Labels, ""); got != nil {
				return true
			}
		}
	}
	return false
}

// commonLabels are the labels every pod of the workload has, without the ones a controller or
// the injector adds: what a workloadSelector for the workload should match.
func commonLabels(pods []inspect.PodReport, workload string) map[string]string {
	var out map[string]string
	for _, p := range pods {
		if p.Pod.Workload != workload {
			continue
		}
		if out == nil {
			out = maps.Clone(p.Pod.Labels)
			continue
		}
		for k, v := range out {
			if p.Pod.Labels[k] != v {
				delete(out, k)
			}
		}
	}
	for _, k := range labelsNotSelecting {
		delete(out, k)
	}
	return out
}

func forWorkload(w string) string {
	if w == "" {
		return ""
	}
	return " (" + w + ")"
}
