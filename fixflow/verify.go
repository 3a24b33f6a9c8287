package fixflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/kubectl-egress/kubectl-egress/inspect"
	"github.com/kubectl-egress/kubectl-egress/remedy"
)

// ErrNoCallers is returned when no pod of the scope shows traffic that names the host.
var ErrNoCallers = errors.New("no pod calls the host")

// VerifyConfig says what to verify and how long to keep trying.
type VerifyConfig struct {
	Host string
	// Fix is the fix to check for; "" is the one kubectl-egress applied, else what the proxies show.
	Fix inspect.Fix
	// Scope is the pods to check. Without POD or TYPE/NAME, only the pods whose traffic names
	// the host are checked: a namespace holds many pods that never call it.
	Scope inspect.Scope
	// Wait polls until the verdict passes (or Until says so) or this much time has passed.
	Wait, Interval time.Duration
	// Until ends the polling early; nil waits for every pod to pass.
	Until func(inspect.Verification) bool
}

// Verifier re-reads proxies and judges whether a fix took effect. Making one does no I/O.
type Verifier struct {
	reader *inspect.Reader
	getter genericclioptions.RESTClientGetter
	// Now stamps the readings; nil is time.Now.
	Now func() time.Time
}

// NewVerifier prepares a verifier for getter's cluster.
func NewVerifier(getter genericclioptions.RESTClientGetter, read inspect.ReadConfig) (*Verifier, error) {
	r, err := inspect.NewReader(getter, read)
	if err != nil {
		return nil, err
	}
	return &Verifier{reader: r, getter: getter}, nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Verify reads the proxies and returns the verdict; with Wait it polls until every pod passes
// or the time is up, and returns the last verdict.
func (v *Verifier) Verify(ctx context.Context, c VerifyConfig) (inspect.Verification, error) {
	v.reader.Now = v.Now
	// Without Istio's CRDs (or the right to discover them) no applied fix can be found: verify
	// what the proxies show.
	applier, _ := Connect(v.getter)
	interval := c.Interval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	deadline := v.now().Add(c.Wait)
	for {
		res, err := v.verifyOnce(ctx, c, applier)
		done := res.Passed
		if c.Until != nil {
			done = c.Until(res)
		}
		if err != nil && !errors.Is(err, ErrNoCallers) || err == nil && done || !v.now().Before(deadline) {
			return res, err
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(interval):
		}
	}
}

func (v *Verifier) verifyOnce(ctx context.Context, c VerifyConfig, applier *remedy.Applier) (inspect.Verification, error) {
	reader := v.reader.WithHosts(c.Host, remedy.ServiceEntryHost(c.Host))
	targets, err := reader.Targets(ctx, c.Scope)
	if err != nil {
		return inspect.Verification{}, err
	}
	reading := reader.ReadTargets(ctx, targets)
	var proxies []inspect.ProxyState
	for _, r := range reading.Pods {
		proxies = append(proxies, inspect.ProxyState{Report: r, Metrics: r.Metrics})
	}
	if len(c.Scope.Args) == 0 {
		proxies = slices.DeleteFunc(proxies, func(p inspect.ProxyState) bool {
			return len(p.Report.Errors) == 0 && !inspect.CallsHost(p.Report, c.Host)
		})
	}
	req := inspect.VerifyRequest{Host: c.Host, Fix: c.Fix}
	if applier != nil {
		fix, at, ns := appliedFix(ctx, applier, c, targets.Pods)
		if req.Fix == "" {
			req.Fix = fix
		}
		req.FixedAt = at
		if ns != "" {
			req.Limits, _ = applier.ManagedLimits(ctx, ns, c.Host)
		}
	}
	res := inspect.Verify(req, proxies)
	if len(proxies) == 0 {
		return res, fmt.Errorf("%w: no pod%s has traffic that names %s (no access-log line, metric or connection): name the pod with POD or TYPE/NAME, or make a call first",
			ErrNoCallers, c.Scope.Where(), c.Host)
	}
	return res, nil
}

// appliedFix finds the objects kubectl-egress wrote for the host in the pods' namespaces (every
// namespace with -A): the fix they record, when the newest was created, and their namespace. Objects of another
// namespace are not looked at: with the default exportTo "." they do not reach these pods, and
// a fix exported from elsewhere is still recognised from the proxies' own configuration.
func appliedFix(ctx context.Context, ap *remedy.Applier, c VerifyConfig, pods []corev1.Pod) (inspect.Fix, time.Time, string) {
	namespaces := []string{}
	for _, p := range pods {
		if !slices.Contains(namespaces, p.Namespace) {
			namespaces = append(namespaces, p.Namespace)
		}
	}
	if c.Scope.AllNamespaces {
		namespaces = []string{""}
	}
	for _, ns := range namespaces {
		objs, err := ap.List(ctx, ns)
		if err != nil {
			continue
		}
		var fix inspect.Fix
		var at time.Time
		var where string
		for _, m := range objs {
			if m.Host != c.Host {
				continue
			}
			if fix == "" || m.Kind == "ServiceEntry" {
				fix, where = m.Fix, m.Namespace
			}
			if m.Created.After(at) {
				at = m.Created.Time
			}
		}
		if fix != "" {
			return fix, at, where
		}
	}
	return "", time.Time{}, ""
}

// ConfigInPlace reports whether every pod has the fix's configuration (own cluster or gateway
// route, and TLS origination where chosen), whatever its traffic shows yet.
func ConfigInPlace(v inspect.Verification) bool {
	if len(v.Pods) == 0 {
		return false
	}
	for _, p := range v.Pods {
		for _, c := range p.Checks {
			if (c.Name == inspect.CheckCluster || c.Name == inspect.CheckTLS) && (c.Status == inspect.CheckFail || c.Status == inspect.CheckPending) {
				return false
			}
		}
	}
	return true
}
