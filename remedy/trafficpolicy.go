package remedy

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networking "istio.io/api/networking/v1"
)

// TrafficPolicy is the connection pool and outlier detection of the fix flags
// (--connect-timeout, --max-connections, --max-pending-requests, --max-requests-per-connection,
// --idle-timeout, --outlier-detection), written into the fix's DestinationRule.
type TrafficPolicy struct {
	ConnectTimeout           time.Duration
	MaxConnections           int32
	MaxPendingRequests       int32
	MaxRequestsPerConnection int32
	IdleTimeout              time.Duration
	Outlier                  *OutlierPolicy
}

// OutlierPolicy ejects an upstream host after consecutive errors.
type OutlierPolicy struct {
	Consecutive5xxErrors     uint32
	ConsecutiveGatewayErrors uint32
	Interval                 time.Duration
	BaseEjectionTime         time.Duration
	MaxEjectionPercent       int32
}

// Empty tells whether no traffic policy was asked for.
func (t TrafficPolicy) Empty() bool { return t == (TrafficPolicy{}) }

func (t TrafficPolicy) check() error {
	if t.ConnectTimeout < 0 || t.IdleTimeout < 0 || t.MaxConnections < 0 || t.MaxPendingRequests < 0 || t.MaxRequestsPerConnection < 0 {
		return fmt.Errorf("connection limits and timeouts must not be negative")
	}
	if o := t.Outlier; o != nil && (o.Interval < 0 || o.BaseEjectionTime < 0 || o.MaxEjectionPercent < 0 || o.MaxEjectionPercent > 100) {
		return fmt.Errorf("outlier detection: interval and base ejection time must not be negative, maxEjectionPercent is 0-100")
	}
	return nil
}

// hasHTTPSettings tells whether the policy sets limits only HTTP traffic has.
func (t TrafficPolicy) hasHTTPSettings() bool {
	return t.MaxPendingRequests != 0 || t.MaxRequestsPerConnection != 0
}

// apply writes the policy into a DestinationRule's traffic policy, for traffic that is HTTP, TCP
// (or TLS) or both: the idle timeout goes where the protocol reads it.
func (t TrafficPolicy) apply(tp *networking.TrafficPolicy, http, tcp bool) {
	tp.ConnectionPool, tp.OutlierDetection = t.settings(http, tcp)
}

// applyPort writes the policy into a port's settings.
func (t TrafficPolicy) applyPort(pt *networking.TrafficPolicy_PortTrafficPolicy, http, tcp bool) {
	pt.ConnectionPool, pt.OutlierDetection = t.settings(http, tcp)
}

func (t TrafficPolicy) settings(http, tcp bool) (*networking.ConnectionPoolSettings, *networking.OutlierDetection) {
	if t.Empty() {
		return nil, nil
	}
	var pool *networking.ConnectionPoolSettings
	var outlier *networking.OutlierDetection
	cp := &networking.ConnectionPoolSettings{}
	if t.ConnectTimeout != 0 || t.MaxConnections != 0 || t.IdleTimeout != 0 && tcp {
		cp.Tcp = &networking.ConnectionPoolSettings_TCPSettings{MaxConnections: t.MaxConnections, ConnectTimeout: duration(t.ConnectTimeout)}
		if tcp {
			cp.Tcp.IdleTimeout = duration(t.IdleTimeout)
		}
	}
	if t.MaxPendingRequests != 0 || t.MaxRequestsPerConnection != 0 || t.IdleTimeout != 0 && http {
		cp.Http = &networking.ConnectionPoolSettings_HTTPSettings{Http1MaxPendingRequests: t.MaxPendingRequests, MaxRequestsPerConnection: t.MaxRequestsPerConnection}
		if http {
			cp.Http.IdleTimeout = duration(t.IdleTimeout)
		}
	}
	if cp.Tcp != nil || cp.Http != nil {
		pool = cp
	}
	if o := t.Outlier; o != nil {
		od := &networking.OutlierDetection{Interval: duration(o.Interval), BaseEjectionTime: duration(o.BaseEjectionTime), MaxEjectionPercent: o.MaxEjectionPercent}
		if o.Consecutive5xxErrors != 0 {
			od.Consecutive_5XxErrors = wrapperspb.UInt32(o.Consecutive5xxErrors)
		}
		if o.ConsecutiveGatewayErrors != 0 {
			od.ConsecutiveGatewayErrors = wrapperspb.UInt32(o.ConsecutiveGatewayErrors)
		}
		outlier = od
	}
	return pool, outlier
}

func duration(d time.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d)
}

// guardTrafficPolicy warns about values Istio accepts that hurt an external host: outlier
// detection on a host with one endpoint can eject it and leave nothing to send to (Envoy's panic
// threshold only helps above one host); HTTP limits on a host the app reaches over TLS do nothing.
func (p *Plan) guardTrafficPolicy(t TrafficPolicy, singleEndpoint, anyHTTP bool) {
	if t.Outlier != nil && singleEndpoint {
		p.warnf("outlier detection on %s, whose one endpoint is its DNS name: when the name resolves to a single address, ejecting it leaves no upstream and calls fail with 503 UH until the ejection ends; keep the thresholds high, or drop --outlier-detection", p.Host)
	}
	if t.hasHTTPSettings() && !anyHTTP {
		p.warnf("--max-pending-requests and --max-requests-per-connection limit HTTP requests, and the sidecar sees none of %s's (the app does TLS): they apply only with TLS origination", p.Host)
	}
}

// origination is the port of a TLS origination DestinationRule, with the policy: the sidecar
// sees HTTP there.
func (t TrafficPolicy) origination(port uint32, tls *networking.ClientTLSSettings) *networking.TrafficPolicy_PortTrafficPolicy {
	pt := portTLS(port, tls)
	t.applyPort(pt, true, false)
	return pt
}
