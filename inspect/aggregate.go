package inspect

import (
	"maps"
	"slices"
	"sort"
)

// Aggregate joins pod reports into one report: a destination seen by several pods (same host,
// port and disposition) becomes one entry whose counts add up across pods; clusters and
// endpoints are listed once with the pods that have them. Output order is deterministic.
func Aggregate(pods []PodReport) Report {
	r := Report{Kind: ReportKind, APIVersion: ReportAPIVersion,
		Destinations: []Destination{}, Clusters: []Cluster{}, Endpoints: []Endpoint{}, Pods: []PodFacts{}}
	dests := map[destKey]*Destination{}
	clusters := map[string]*Cluster{}
	endpoints := map[[2]string]*Endpoint{}
	for _, p := range pods {
		if p.GeneratedAt.After(r.GeneratedAt) {
			r.GeneratedAt = p.GeneratedAt
		}
		facts := p.Facts
		if facts.Name == "" && facts.Namespace == "" {
			facts.Namespace, facts.Name, facts.Workload = p.Pod.Namespace, p.Pod.Name, p.Pod.Workload
		}
		if facts.AccessLogging == "" {
			facts.AccessLogging = AccessLoggingUnknown
		}
		facts.Errors = append(slices.Clone(facts.Errors), p.Errors...)
		r.Pods = append(r.Pods, facts)

		for _, d := range p.Destinations {
			k := destKey{d.Host, d.Port, d.Disposition}
			have, ok := dests[k]
			if !ok {
				d := cloneDestination(d)
				dests[k] = &d
				continue
			}
			mergeDestination(have, d)
		}
		for _, c := range p.Clusters {
			if have, ok := clusters[c.Name]; ok {
				have.Pods = union(have.Pods, c.Pods)
				if have.Type == "" {
					pods := have.Pods
					*have = c
					have.Pods = pods
				}
				continue
			}
			c := c
			c.Pods = slices.Clone(c.Pods)
			clusters[c.Name] = &c
		}
		for _, e := range p.Endpoints {
			k := [2]string{e.Cluster, e.Address}
			if have, ok := endpoints[k]; ok {
				have.Pods = union(have.Pods, e.Pods)
				continue
			}
			e := e
			e.Pods = slices.Clone(e.Pods)
			endpoints[k] = &e
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(dests), func(a, b destKey) int { return cmpBool(keyLess(a, b), keyLess(b, a)) }) {
		d := dests[k]
		d.Recommendation = recommend(*d)
		r.Destinations = append(r.Destinations, *d)
	}
	for _, name := range slices.Sorted(maps.Keys(clusters)) {
		r.Clusters = append(r.Clusters, *clusters[name])
	}
	for _, e := range endpoints {
		r.Endpoints = append(r.Endpoints, *e)
	}
	sortEndpoints(r.Endpoints)
	sort.Slice(r.Pods, func(i, j int) bool { return r.Pods[i].Key() < r.Pods[j].Key() })
	return r
}

func cmpBool(less, greater bool) int {
	switch {
	case less:
		return -1
	case greater:
		return 1
	}
	return 0
}

func cloneDestination(d Destination) Destination {
	d.Pods = slices.Clone(d.Pods)
	d.Signals = slices.Clone(d.Signals)
	d.Addresses = slices.Clone(d.Addresses)
	d.Problems = slices.Clone(d.Problems)
	d.ResponseCodes = maps.Clone(d.ResponseCodes)
	d.ResponseFlags = maps.Clone(d.ResponseFlags)
	d.Requests = maps.Clone(d.Requests)
	return d
}

// mergeDestination adds another pod's view of the same destination: different pods are different
// traffic, so counts add up.
func mergeDestination(have *Destination, d Destination) {
	have.Pods = union(have.Pods, d.Pods)
	for _, s := range d.Signals {
		if !slices.Contains(have.Signals, s) {
			have.Signals = append(have.Signals, s)
		}
	}
	sortSignals(have.Signals)
	have.Addresses = union(have.Addresses, d.Addresses)
	have.Problems = union(have.Problems, d.Problems)
	have.Counts.Connections += d.Counts.Connections
	have.Counts.Requests += d.Counts.Requests
	have.Counts.BytesSent += d.Counts.BytesSent
	have.Counts.BytesReceived += d.Counts.BytesReceived
	have.ResponseCodes = addCounts(have.ResponseCodes, d.ResponseCodes)
	have.ResponseFlags = addCounts(have.ResponseFlags, d.ResponseFlags)
	have.Requests = addCounts(have.Requests, d.Requests)
	if d.LastSeen != nil && (have.LastSeen == nil || d.LastSeen.After(*have.LastSeen)) {
		t := *d.LastSeen
		have.LastSeen = &t
	}
	if protocolRank[d.Protocol] > protocolRank[have.Protocol] {
		have.Protocol = d.Protocol
	}
	if have.Cluster == "" {
		have.Cluster = d.Cluster
	}
	if have.Gateway == "" {
		have.Gateway = d.Gateway
	}
	if have.Bypass == nil {
		have.Bypass = d.Bypass
	}
}

func addCounts(a, b map[string]int64) map[string]int64 {
	if len(b) == 0 {
		return a
	}
	if a == nil {
		a = map[string]int64{}
	}
	for k, v := range b {
		a[k] += v
	}
	return a
}

// union returns the sorted union of two string sets, nil when both are empty.
func union(a, b []string) []string {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}
