package sidecar

import (
	"bytes"
	"fmt"
	"sync"
	"time"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// xDS type URLs this proxy subscribes to.
const (
	typeCluster  = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	typeEndpoint = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
	typeListener = "type.googleapis.com/envoy.config.listener.v3.Listener"
	typeRoute    = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
)

// entry is one accepted xDS resource as received: kept serialized so that 500 proxies in one
// process hold a few tens of KB each, and parsed only when a dump or a replay needs it.
type entry struct {
	name    string
	version string
	updated time.Time
	raw     *anypb.Any
}

// xdsState is the proxy's live, accepted config.
type xdsState struct {
	mu       sync.RWMutex
	versions map[string]string
	order    map[string][]string // names in arrival order, per type
	entries  map[string]map[string]*entry
	// generation counts accepted changes.
	generation uint64
}

func newXDSState() *xdsState {
	return &xdsState{
		versions: map[string]string{},
		order:    map[string][]string{},
		entries:  map[string]map[string]*entry{},
	}
}

// replace installs a full state-of-the-world set (CDS, LDS): resources absent from the set go.
func (st *xdsState) replace(typeURL, version string, now time.Time, res []*entry) {
	st.mu.Lock()
	defer st.mu.Unlock()
	old := st.entries[typeURL]
	next := make(map[string]*entry, len(res))
	order := make([]string, 0, len(res))
	for _, e := range res {
		if prev, ok := old[e.name]; ok && bytes.Equal(prev.raw.GetValue(), e.raw.GetValue()) {
			e = prev // unchanged: keeps its version and last_updated, as Envoy does
		} else {
			e.version, e.updated = version, now
		}
		if _, dup := next[e.name]; !dup {
			order = append(order, e.name)
		}
		next[e.name] = e
	}
	st.entries[typeURL] = next
	st.order[typeURL] = order
	st.versions[typeURL] = version
	st.generation++
}

// merge adds or updates resources (EDS, RDS: responses carry only some of the subscribed
// names) and drops those no longer subscribed.
func (st *xdsState) merge(typeURL, version string, now time.Time, res []*entry, subscribed map[string]bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	cur := st.entries[typeURL]
	if cur == nil {
		cur = map[string]*entry{}
		st.entries[typeURL] = cur
	}
	for _, e := range res {
		if prev, ok := cur[e.name]; ok && bytes.Equal(prev.raw.GetValue(), e.raw.GetValue()) {
			continue
		}
		e.version, e.updated = version, now
		if _, ok := cur[e.name]; !ok {
			st.order[typeURL] = append(st.order[typeURL], e.name)
		}
		cur[e.name] = e
	}
	st.pruneLocked(typeURL, subscribed)
	st.versions[typeURL] = version
	st.generation++
}

func (st *xdsState) prune(typeURL string, subscribed map[string]bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.pruneLocked(typeURL, subscribed)
	st.generation++
}

func (st *xdsState) pruneLocked(typeURL string, subscribed map[string]bool) {
	if subscribed == nil {
		return
	}
	cur := st.entries[typeURL]
	order := st.order[typeURL][:0:0]
	for _, n := range st.order[typeURL] {
		if subscribed[n] {
			order = append(order, n)
		} else {
			delete(cur, n)
		}
	}
	st.order[typeURL] = order
}

// snapshot parses the current state. It is not cached: with hundreds of proxies in one
// process the parsed form would dominate memory, and parsing one proxy's config takes
// well under a millisecond.
func (st *xdsState) snapshot() (*Snapshot, error) {
	st.mu.RLock()
	raw := map[string][]*entry{}
	versions := map[string]string{}
	for t, names := range st.order {
		for _, n := range names {
			raw[t] = append(raw[t], st.entries[t][n])
		}
		versions[t] = st.versions[t]
	}
	st.mu.RUnlock()
	return newSnapshot(raw, versions)
}

// Snapshot is a parsed, immutable view of a proxy's xDS config.
type Snapshot struct {
	versions map[string]string
	raw      map[string][]*entry

	Clusters  []*clusterv3.Cluster
	Listeners []*listenerv3.Listener
	Routes    map[string]*routev3.RouteConfiguration
	Endpoints map[string]*endpointv3.ClusterLoadAssignment

	clusterByName map[string]*clusterv3.Cluster
}

func newSnapshot(raw map[string][]*entry, versions map[string]string) (*Snapshot, error) {
	s := &Snapshot{
		versions:      versions,
		raw:           raw,
		Routes:        map[string]*routev3.RouteConfiguration{},
		Endpoints:     map[string]*endpointv3.ClusterLoadAssignment{},
		clusterByName: map[string]*clusterv3.Cluster{},
	}
	for _, e := range raw[typeCluster] {
		c := &clusterv3.Cluster{}
		if err := e.raw.UnmarshalTo(c); err != nil {
			return nil, fmt.Errorf("failed to parse cluster %s: %w", e.name, err)
		}
		s.Clusters = append(s.Clusters, c)
		s.clusterByName[c.GetName()] = c
	}
	for _, e := range raw[typeListener] {
		l := &listenerv3.Listener{}
		if err := e.raw.UnmarshalTo(l); err != nil {
			return nil, fmt.Errorf("failed to parse listener %s: %w", e.name, err)
		}
		s.Listeners = append(s.Listeners, l)
	}
	for _, e := range raw[typeRoute] {
		r := &routev3.RouteConfiguration{}
		if err := e.raw.UnmarshalTo(r); err != nil {
			return nil, fmt.Errorf("failed to parse route config %s: %w", e.name, err)
		}
		s.Routes[r.GetName()] = r
	}
	for _, e := range raw[typeEndpoint] {
		cla := &endpointv3.ClusterLoadAssignment{}
		if err := e.raw.UnmarshalTo(cla); err != nil {
			return nil, fmt.Errorf("failed to parse endpoints %s: %w", e.name, err)
		}
		s.Endpoints[cla.GetClusterName()] = cla
	}
	return s, nil
}

// Cluster returns the named cluster or nil.
func (s *Snapshot) Cluster(name string) *clusterv3.Cluster { return s.clusterByName[name] }

// LoadConfigDump reads an Envoy /config_dump or istiod /debug/config_dump (snake_case or
// lowerCamelCase) into a Snapshot of its dynamic resources.
func LoadConfigDump(data []byte) (*Snapshot, error) {
	dump := &adminv3.ConfigDump{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, dump); err != nil {
		return nil, fmt.Errorf("failed to parse config dump: %w", err)
	}
	raw := map[string][]*entry{}
	versions := map[string]string{}
	for _, c := range dump.GetConfigs() {
		m, err := c.UnmarshalNew()
		if err != nil {
			return nil, fmt.Errorf("failed to parse config dump section %s: %w", c.GetTypeUrl(), err)
		}
		switch d := m.(type) {
		case *adminv3.ClustersConfigDump:
			versions[typeCluster] = d.GetVersionInfo()
			for _, dc := range d.GetDynamicActiveClusters() {
				cl := &clusterv3.Cluster{}
				if err := dc.GetCluster().UnmarshalTo(cl); err != nil {
					return nil, fmt.Errorf("failed to parse cluster in dump: %w", err)
				}
				raw[typeCluster] = append(raw[typeCluster], &entry{name: cl.GetName(), version: dc.GetVersionInfo(), updated: dc.GetLastUpdated().AsTime(), raw: dc.GetCluster()})
			}
		case *adminv3.ListenersConfigDump:
			versions[typeListener] = d.GetVersionInfo()
			for _, dl := range d.GetDynamicListeners() {
				st := dl.GetActiveState()
				if st == nil {
					continue
				}
				raw[typeListener] = append(raw[typeListener], &entry{name: dl.GetName(), version: st.GetVersionInfo(), updated: st.GetLastUpdated().AsTime(), raw: st.GetListener()})
			}
		case *adminv3.RoutesConfigDump:
			for _, dr := range d.GetDynamicRouteConfigs() {
				rc := &routev3.RouteConfiguration{}
				if err := dr.GetRouteConfig().UnmarshalTo(rc); err != nil {
					return nil, fmt.Errorf("failed to parse route config in dump: %w", err)
				}
				raw[typeRoute] = append(raw[typeRoute], &entry{name: rc.GetName(), version: dr.GetVersionInfo(), updated: dr.GetLastUpdated().AsTime(), raw: dr.GetRouteConfig()})
				versions[typeRoute] = dr.GetVersionInfo()
			}
		case *adminv3.EndpointsConfigDump:
			for _, de := range d.GetDynamicEndpointConfigs() {
				cla := &endpointv3.ClusterLoadAssignment{}
				if err := de.GetEndpointConfig().UnmarshalTo(cla); err != nil {
					return nil, fmt.Errorf("failed to parse endpoints in dump: %w", err)
				}
				raw[typeEndpoint] = append(raw[typeEndpoint], &entry{name: cla.GetClusterName(), version: de.GetVersionInfo(), updated: de.GetLastUpdated().AsTime(), raw: de.GetEndpointConfig()})
				versions[typeEndpoint] = de.GetVersionInfo()
			}
		}
	}
	return newSnapshot(raw, versions)
}

// stateFromSnapshot seeds a live state with a snapshot's resources (used by tests and by
// stand-ins started without istiod).
func stateFromSnapshot(s *Snapshot) *xdsState {
	st := newXDSState()
	for t, es := range s.raw {
		m := map[string]*entry{}
		for _, e := range es {
			cp := *e
			cp.raw = proto.Clone(e.raw).(*anypb.Any)
			m[e.name] = &cp
			st.order[t] = append(st.order[t], e.name)
		}
		st.entries[t] = m
		st.versions[t] = s.versions[t]
	}
	st.generation++
	return st
}
