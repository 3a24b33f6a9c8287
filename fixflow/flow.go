package fixflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/kubectl-egress/kubectl-egress/inspect"
	"github.com/kubectl-egress/kubectl-egress/internal/warning"
	"github.com/kubectl-egress/kubectl-egress/remedy"
)

// ErrNoConfirmation refuses to apply when nobody can be asked and --yes was not given.
var ErrNoConfirmation = errors.New("refusing to apply without confirmation: stdin is not a terminal; pass --yes to apply, or -o yaml to write the manifests")

// ErrDeclined is the answer no.
var ErrDeclined = errors.New("nothing applied: not confirmed")

// Confirmer is asked once, before anything is written.
type Confirmer interface {
	Confirm(question string) (bool, error)
}

// Yes confirms without asking (--yes).
type Yes struct{}

// Confirm says yes.
func (Yes) Confirm(string) (bool, error) { return true, nil }

// Config is one run of the fix flow, as a command's flags set it.
type Config struct {
	// Namespace receives the objects; its pods are observed and verified.
	Namespace string
	// Observe narrows the pods observed and verified (POD, TYPE/NAME, -l); its namespace is
	// Namespace. Zero means every pod of Namespace.
	Observe inspect.Scope
	// Read bounds how proxies are read when observing and verifying.
	Read inspect.ReadConfig
	// ObserveTimeout bounds the observation; 0 is no bound.
	ObserveTimeout time.Duration
	// IstioVersion plans for this version; unknown plans for the oldest observed proxy.
	IstioVersion remedy.IstioVersion
	ExportTo     []string
	// Waypoint, for a namespace in ambient mode, is the waypoint to bind the ServiceEntries to
	// (NAME or NAMESPACE/NAME); "" picks the namespace's (remedy.ChooseWaypoint).
	Waypoint string
	Force    bool
	Route    remedy.RoutePolicy
	Traffic  remedy.TrafficPolicy
	DryRun   remedy.DryRun
	// WriteYAML writes the manifests to Out and applies nothing (-o yaml).
	WriteYAML bool
	// Preview prints, before asking, each object with what applying would do to it and the diff
	// against the live objects (a server-side dry run). The commands set it on a terminal.
	Preview bool
	// Confirm is asked before anything is written; nil refuses (ErrNoConfirmation). Dry runs
	// write nothing and ask nobody.
	Confirm Confirmer
	// VerifyWait, when positive, waits after applying until the sidecars have the fix, at most
	// this long, and prints the verdict.
	VerifyWait time.Duration
	// Out gets the data (manifests, result lines, preview, verdicts); ErrOut the warnings.
	Out, ErrOut io.Writer
}

// Flow is one run of the fix flow. Making one does no I/O; Observe, Plan and Run do.
type Flow struct {
	cfg    Config
	getter genericclioptions.RESTClientGetter
	obs    *Observation

	applier  *remedy.Applier
	existing *remedy.Existing
	// Now stamps the observation; nil is time.Now.
	Now func() time.Time
}

// New prepares a run against getter's cluster.
func New(getter genericclioptions.RESTClientGetter, cfg Config) *Flow {
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.ErrOut == nil {
		cfg.ErrOut = io.Discard
	}
	if cfg.DryRun == "" {
		cfg.DryRun = remedy.DryRunNone
	}
	return &Flow{cfg: cfg, getter: getter}
}

func (f *Flow) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Flow) warnf(format string, args ...any) {
	warning.Printf(f.cfg.ErrOut, format, args...)
}

// Observe reads the proxies of the target pods once: their destinations tell the ports,
// protocols and callers of a host, their server_info the Istio version. Pods that cannot be
// read are a warning, not a failure: the user can give --port and --istio-version instead.
func (f *Flow) Observe(ctx context.Context) Observation {
	if f.obs != nil {
		return *f.obs
	}
	obs, err := f.observe(ctx)
	if err != nil {
		f.warnf("cannot read the proxies of namespace %s: %v", f.cfg.Namespace, err)
	}
	f.obs = &obs
	return obs
}

func (f *Flow) observe(ctx context.Context) (Observation, error) {
	obs := Observation{Read: true, Report: inspect.Aggregate(nil)}
	r, err := inspect.NewReader(f.getter, f.cfg.Read)
	if err != nil {
		return obs, err
	}
	r.Now = f.Now
	scope := f.cfg.Observe
	scope.Namespace = f.cfg.Namespace
	if len(scope.Args) == 0 && scope.Selector == "" {
		// A namespace without pods yet is no error: there is nothing to observe.
		some, err := r.Client().CoreV1().Pods(f.cfg.Namespace).List(ctx, metav1.ListOptions{Limit: 1})
		if err != nil {
			return obs, fmt.Errorf("failed to list pods: %w", err)
		}
		if len(some.Items) == 0 {
			return obs, nil
		}
	}
	if f.cfg.ObserveTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.cfg.ObserveTimeout)
		defer cancel()
	}
	t, err := r.Targets(ctx, scope)
	if err != nil {
		return obs, err
	}
	reading := r.ReadTargets(ctx, t)
	obs.Report, obs.Pods, obs.Skipped = reading.Report, reading.Pods, reading.Skipped
	for _, p := range reading.Report.Pods {
		for _, e := range p.Errors {
			f.warnf("%s", e)
		}
	}
	return obs, nil
}

// connect discovers the cluster's Istio API once: the applier needs it for every later step.
func (f *Flow) connect() error {
	if f.applier != nil {
		return nil
	}
	var err error
	f.applier, err = Connect(f.getter)
	return err
}

// Connect asks getter's API server which Istio networking API it serves and returns the
// applier for it (remedy.Connect over the getter's clients).
func Connect(getter genericclioptions.RESTClientGetter) (*remedy.Applier, error) {
	config, err := getter.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	disco, err := getter.ToDiscoveryClient()
	if err != nil {
		return nil, err
	}
	return remedy.Connect(dyn, disco)
}

// existingObjects reads, once per run, what the guards compare plans with.
func (f *Flow) existingObjects(ctx context.Context) (remedy.Existing, error) {
	if f.existing != nil {
		return *f.existing, nil
	}
	ex, err := f.applier.Existing(ctx, f.cfg.Namespace)
	if err != nil {
		return ex, err
	}
	f.existing = &ex
	return ex, nil
}

// Refusal is a request that could not be planned, and why.
type Refusal struct {
	Request Request
	Err     error
}

// Plan reads what exists (and the egress gateway of each gateway request), then plans every
// request from what was observed so far; it observes nothing itself. A request a guard refuses
// is in refused; err is for the reads every request needs.
func (f *Flow) Plan(ctx context.Context, reqs []Request) (plans []*remedy.Plan, refused []Refusal, err error) {
	if err := f.connect(); err != nil {
		return nil, nil, err
	}
	ex, err := f.existingObjects(ctx)
	if err != nil {
		return nil, nil, err
	}
	var obs Observation
	if f.obs != nil {
		obs = *f.obs
	}
	target := f.target()
	if target.Waypoint, err = f.waypoint(ctx, ex); err != nil {
		return nil, nil, err
	}
	for _, req := range reqs {
		in := Inputs{Target: target, Observation: obs, Existing: ex}
		if req.Fix == inspect.FixEgressGateway {
			if req.EgressAPI, err = f.egressAPI(ctx, req); err != nil {
				refused = append(refused, Refusal{Request: req, Err: err})
				continue
			}
		}
		if req.Fix == inspect.FixEgressGateway && req.EgressAPI == EgressAPIIstio {
			ns, name, err := req.GatewayRef()
			if err == nil {
				var g remedy.EgressGateway
				if g, err = f.applier.EgressGateway(ctx, ns, name); err == nil {
					in.Gateway = &g
				}
			}
			if err != nil {
				refused = append(refused, Refusal{Request: req, Err: err})
				continue
			}
		}
		p, err := PlanRequest(req, in)
		if err != nil {
			refused = append(refused, Refusal{Request: req, Err: err})
			continue
		}
		plans = append(plans, p)
	}
	if slices.ContainsFunc(reqs, func(r Request) bool { return r.Lock }) && len(plans) > 0 {
		lock, err := remedy.PlanGatewayLock(target, ex)
		if err != nil {
			return nil, nil, err
		}
		plans = append(plans, lock)
	}
	return plans, refused, nil
}

// egressAPI resolves the API of a gateway request: the one asked for, else the Gateway API when
// the cluster serves it and has no classic egress gateway. --lock (a NetworkPolicy for the
// classic gateway's namespace) and TLS origination at the gateway keep the classic recipe.
func (f *Flow) egressAPI(ctx context.Context, req Request) (EgressAPI, error) {
	classicOnly := req.Lock || req.GatewayTLSOrigination
	if req.EgressAPI == EgressAPIGateway && classicOnly {
		return "", errors.New("--lock and --tls-origination are written for the classic egress gateway only, not for a Gateway API gateway: use --api istio")
	}
	if req.EgressAPI != EgressAPIAuto {
		return req.EgressAPI, nil
	}
	if classicOnly || !f.applier.GatewayAPI().Served() {
		return EgressAPIIstio, nil
	}
	ns, name, err := req.GatewayRef()
	if err != nil {
		return "", err
	}
	classic, err := f.applier.HasEgressGateway(ctx, ns, name)
	if err != nil {
		return "", err
	}
	if classic {
		return EgressAPIIstio, nil
	}
	return EgressAPIGateway, nil
}

// waypoint is the waypoint the fixes bind to when the namespace is in ambient mode (its label
// istio.io/dataplane-mode=ambient, or, when namespaces cannot be read, its observed pods), nil
// in sidecar mode.
func (f *Flow) waypoint(ctx context.Context, ex remedy.Existing) (*remedy.Waypoint, error) {
	ns := f.cfg.Namespace
	labels, err := f.applier.NamespaceLabels(ctx, ns)
	ambient := labels[inspect.DataplaneModeLabel] == inspect.DataplaneAmbient
	if err != nil {
		ambient = f.obs != nil && f.obs.Ambient()
	}
	if !ambient {
		if f.cfg.Waypoint != "" {
			return nil, fmt.Errorf("--waypoint is for namespaces in ambient mode, and %s is not (no label %s=ambient)", ns, inspect.DataplaneModeLabel)
		}
		return nil, nil
	}
	if !f.applier.GatewayAPI().Gateways {
		return nil, fmt.Errorf("namespace %s is in ambient mode, whose egress goes through a waypoint, a Gateway API Gateway: install the Gateway API CRDs", ns)
	}
	asked := f.cfg.Waypoint
	if asked == "" {
		asked = remedy.UsesWaypoint(ns, labels)
	}
	return remedy.ChooseWaypoint(ns, asked, labels, ex.KubeGateways, func(ns, name string) (*gatewayv1.Gateway, error) {
		return f.applier.KubeGateway(ctx, ns, name)
	})
}

// target is what every plan of the run shares; the applier must be connected.
func (f *Flow) target() remedy.Target {
	istio := f.cfg.IstioVersion
	if !istio.Known() && f.obs != nil {
		istio = f.obs.IstioVersion()
	}
	return remedy.Target{
		Namespace:  f.cfg.Namespace,
		ExportTo:   f.cfg.ExportTo,
		Istio:      istio,
		APIVersion: f.applier.APIVersion(),
		Force:      f.cfg.Force,
		Route:      f.cfg.Route,
		Traffic:    f.cfg.Traffic,
	}
}

// Fix is the whole flow for requests: observe when they leave something for the proxies to
// tell, plan, then Run. A single request that is refused is the error; of several, the refused
// ones are warnings and the others go on.
func (f *Flow) Fix(ctx context.Context, reqs []Request) error {
	if f.needsObservation(reqs) {
		f.Observe(ctx)
	}
	plans, refused, err := f.Plan(ctx, reqs)
	if err != nil {
		return err
	}
	if len(reqs) == 1 && len(refused) == 1 {
		return refused[0].Err
	}
	for _, r := range refused {
		f.warnf("skipping %s: cannot plan %s: %v", r.Request.NormalizedHost(), r.Request.Fix, r.Err)
	}
	if len(plans) == 0 {
		if len(refused) > 0 {
			return errors.New("nothing to apply: every chosen fix was refused (see the warnings above)")
		}
		return nil
	}
	return f.Run(ctx, plans)
}

// needsObservation tells whether the proxies have anything to tell: the Istio version unless
// given, and whatever a request leaves open.
func (f *Flow) needsObservation(reqs []Request) bool {
	if !f.cfg.IstioVersion.Known() {
		return true
	}
	for _, r := range reqs {
		if r.needsObservation() {
			return true
		}
	}
	return false
}

// Run takes plans to the cluster: with WriteYAML it writes them and applies nothing; otherwise
// it previews (when asked), confirms (unless a dry run), applies every plan's objects all or
// nothing, prints kubectl's result lines and the notes for the app owner, and verifies.
func (f *Flow) Run(ctx context.Context, plans []*remedy.Plan) error {
	for _, p := range plans {
		for _, w := range p.Warnings {
			f.warnf("%s", w)
		}
	}
	if f.cfg.WriteYAML {
		if err := writeYAML(f.cfg.Out, plans); err != nil {
			return err
		}
		printNotes(f.cfg.ErrOut, plans)
		return nil
	}
	if f.cfg.DryRun == remedy.DryRunNone && f.cfg.Confirm == nil {
		return ErrNoConfirmation // before any request: nobody could say yes
	}
	if err := f.connect(); err != nil {
		return err
	}
	if f.cfg.DryRun == remedy.DryRunNone {
		if f.cfg.Preview {
			if err := f.preview(ctx, plans); err != nil {
				return err
			}
		}
		ok, err := f.cfg.Confirm.Confirm(fmt.Sprintf("Apply %s to namespace %s?", objectCount(plans), f.cfg.Namespace))
		if err != nil {
			return err
		}
		if !ok {
			return ErrDeclined
		}
	}
	results, err := f.applier.ApplyAll(ctx, plans, remedy.ApplyOptions{DryRun: f.cfg.DryRun, Force: f.cfg.Force})
	if err != nil {
		return err
	}
	f.existing = nil
	for _, r := range results {
		fmt.Fprintln(f.cfg.Out, r)
	}
	printNotes(f.cfg.Out, plans)
	if f.cfg.DryRun != remedy.DryRunNone || f.cfg.VerifyWait <= 0 {
		return nil
	}
	for _, p := range plans {
		f.verifyApplied(ctx, p.Host)
	}
	return nil
}

// verifyApplied waits until istiod has pushed the fix of host to the sidecars that call it
// (its configuration checks pass) or VerifyWait is over, and prints the verdict. Traffic checks
// may still be pending: the app may not have called since, or must switch to http:// first.
func (f *Flow) verifyApplied(ctx context.Context, host string) {
	fmt.Fprintf(f.cfg.Out, "\nVerifying %s on the sidecars...\n", host)
	v, err := NewVerifier(f.getter, f.cfg.Read)
	if err != nil {
		f.warnf("cannot verify %s: %v", host, err)
		return
	}
	v.Now = f.Now
	scope := f.cfg.Observe
	scope.Namespace = f.cfg.Namespace
	res, err := v.Verify(ctx, VerifyConfig{Host: host, Scope: scope, Wait: f.cfg.VerifyWait, Interval: time.Second, Until: ConfigInPlace})
	if err != nil {
		f.warnf("cannot verify %s: %v", host, err)
		return
	}
	if err := inspect.PrintVerification(f.cfg.Out, res, inspect.FormatTable); err != nil {
		f.warnf("%v", err)
	}
	switch {
	case res.Passed:
		fmt.Fprintf(f.cfg.Out, "%s: the fix took effect.\n", host)
	case ConfigInPlace(res):
		fmt.Fprintf(f.cfg.Out, "%s: the sidecars have the fix; check again after the app's next calls: kubectl egress verify %s -n %s\n", host, host, f.cfg.Namespace)
	default:
		fmt.Fprintf(f.cfg.Out, "%s: not in effect after %s; see above, and check again with: kubectl egress verify %s -n %s --wait 1m\n", host, f.cfg.VerifyWait, host, f.cfg.Namespace)
	}
}

func objectCount(plans []*remedy.Plan) string {
	n := 0
	for _, p := range plans {
		n += len(p.Objects)
	}
	if n == 1 {
		return "1 object"
	}
	return fmt.Sprintf("%d objects", n)
}

// writeYAML writes the plans as one multi-document YAML stream (-o yaml).
func writeYAML(w io.Writer, plans []*remedy.Plan) error {
	for i, p := range plans {
		if i > 0 {
			fmt.Fprintln(w, "---")
		}
		if err := remedy.WriteYAML(w, p); err != nil {
			return err
		}
	}
	return nil
}

// printNotes prints what the application owner must know or change, plainly.
func printNotes(w io.Writer, plans []*remedy.Plan) {
	for _, p := range plans {
		for _, n := range p.Notes {
			fmt.Fprintln(w, n)
		}
	}
}

// Hosts names the plans' hosts, for messages.
func Hosts(plans []*remedy.Plan) string {
	hosts := make([]string, len(plans))
	for i, p := range plans {
		hosts[i] = p.Host
	}
	return strings.Join(hosts, ", ")
}
