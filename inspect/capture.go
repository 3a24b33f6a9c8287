package inspect

import (
	"strconv"
	"strings"
)

// Pod annotations that change which outbound traffic iptables sends to the sidecar
// (istio tools/istio-iptables). Traffic they exclude is invisible to every proxy signal.
const (
	annotationExcludeOutboundIPRanges = "traffic.sidecar.istio.io/excludeOutboundIPRanges"
	annotationIncludeOutboundIPRanges = "traffic.sidecar.istio.io/includeOutboundIPRanges"
	annotationExcludeOutboundPorts    = "traffic.sidecar.istio.io/excludeOutboundPorts"
	annotationIncludeOutboundPorts    = "traffic.sidecar.istio.io/includeOutboundPorts"
)

var captureAnnotations = []string{
	annotationExcludeOutboundIPRanges, annotationIncludeOutboundIPRanges,
	annotationExcludeOutboundPorts, annotationIncludeOutboundPorts,
}

// captureExclusions lists the pod's capture annotations that are set.
func captureExclusions(annotations map[string]string) []Bypass {
	var out []Bypass
	for _, a := range captureAnnotations {
		if v := strings.TrimSpace(annotations[a]); v != "" {
			out = append(out, Bypass{Annotation: a, Value: v})
		}
	}
	return out
}

// bypassDestinations turns capture annotations into destinations: each excluded range or port,
// and, when includeOutboundIPRanges is narrower than "*", everything outside it.
// includeOutboundPorts re-captures ports and bypasses nothing, so it is only a fact.
func bypassDestinations(annotations map[string]string) []Destination {
	var out []Destination
	add := func(host string, port uint32, annotation, value string) {
		out = append(out, Destination{
			Host: host, Port: port, Disposition: DispositionBypassed,
			Signals: []Signal{SignalAnnotation},
			Bypass:  &Bypass{Annotation: annotation, Value: value},
		})
	}
	for _, r := range splitList(annotations[annotationExcludeOutboundIPRanges]) {
		add(r, 0, annotationExcludeOutboundIPRanges, annotations[annotationExcludeOutboundIPRanges])
	}
	for _, p := range splitList(annotations[annotationExcludeOutboundPorts]) {
		if n, err := strconv.ParseUint(p, 10, 16); err == nil {
			add("*", uint32(n), annotationExcludeOutboundPorts, annotations[annotationExcludeOutboundPorts])
		}
	}
	if inc := strings.TrimSpace(annotations[annotationIncludeOutboundIPRanges]); inc != "" && inc != "*" {
		add("*", 0, annotationIncludeOutboundIPRanges, inc)
	}
	return out
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
