package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/kubectl-egress/kubectl-egress/e2e/xdsretry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protowire"
)

// xdsClient is an ADS (state of the world) client that subscribes the way Envoy does: CDS,
// then EDS for the EDS clusters, then LDS once the clusters are warm, then RDS for the route
// configs the listeners name. istiod builds endpoints and routes only for what is subscribed.
type xdsClient struct {
	conn  *grpc.ClientConn
	node  *nodeInfo
	state *xdsState
	clock func() time.Time

	synced     chan struct{}
	syncedOnce sync.Once

	retry xdsretry.Loop

	mu   sync.Mutex
	subs map[string]*subscription
}

// subscription is one type's request state on the current stream.
type subscription struct {
	requested bool
	names     []string // sorted; nil for wildcard types
	version   string   // last accepted version_info
	nonce     string   // last response nonce
	acked     bool     // a response was received and ACKed on this stream
}

func newXDSClient(addr string, node *nodeInfo, state *xdsState, clock func() time.Time) (*xdsClient, error) {
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// Small buffers: hundreds of these run in one process.
		grpc.WithReadBufferSize(16<<10),
		grpc.WithWriteBufferSize(16<<10),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20)),
	)
	if err != nil {
		return nil, err
	}
	return &xdsClient{
		conn:   conn,
		node:   node,
		state:  state,
		clock:  clock,
		synced: make(chan struct{}),
		subs:   map[string]*subscription{},
	}, nil
}

func (c *xdsClient) close() error { return c.conn.Close() }

func (c *xdsClient) progress() string {
	attempts, lastErr := c.retry.Status()
	c.mu.Lock()
	defer c.mu.Unlock()
	s := fmt.Sprintf("%d connection attempts", attempts)
	for _, t := range []string{typeCluster, typeEndpoint, typeListener, typeRoute} {
		if sub := c.subs[t]; sub != nil {
			s += fmt.Sprintf(", %s requested=%t acked=%t", shortType(t), sub.requested, sub.acked)
		}
	}
	if lastErr != nil {
		s += ", last error: " + lastErr.Error()
	}
	return s
}

// run keeps a stream open until ctx ends, reconnecting with jittered exponential backoff
// (istiod refuses bursts of new streams with ResourceExhausted).
func (c *xdsClient) run(ctx context.Context) { c.retry.Run(ctx, c.stream) }

func (c *xdsClient) stream(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(c.conn).StreamAggregatedResources(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	// A new stream starts over, keeping the accepted versions (Envoy sends them back).
	old := c.subs
	c.subs = map[string]*subscription{}
	for t, s := range old {
		c.subs[t] = &subscription{version: s.version}
	}
	c.mu.Unlock()

	first := true
	send := func(typeURL string, names []string, version, nonce string) error {
		req := &discoveryv3.DiscoveryRequest{
			TypeUrl:       typeURL,
			VersionInfo:   version,
			ResourceNames: names,
			ResponseNonce: nonce,
		}
		if first {
			req.Node = c.node.xdsNode()
			first = false
		}
		return stream.Send(req)
	}
	if err := c.subscribe(send, typeCluster, nil); err != nil {
		return err
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("istiod closed the stream")
			}
			return err
		}
		if err := c.handle(send, resp); err != nil {
			return err
		}
	}
}

type sendFunc func(typeURL string, names []string, version, nonce string) error

// subscribe sends a (new or changed) subscription for a type on the current stream.
func (c *xdsClient) subscribe(send sendFunc, typeURL string, names []string) error {
	c.mu.Lock()
	sub := c.subs[typeURL]
	if sub == nil {
		sub = &subscription{}
		c.subs[typeURL] = sub
	}
	sub.requested = true
	sub.names = names
	version, nonce := sub.version, sub.nonce
	c.mu.Unlock()
	return send(typeURL, names, version, nonce)
}

func (c *xdsClient) handle(send sendFunc, resp *discoveryv3.DiscoveryResponse) error {
	now := c.clock()
	typeURL := resp.GetTypeUrl()
	var entries []*entry
	for _, r := range resp.GetResources() {
		name, err := resourceName(typeURL, r.GetValue())
		if err != nil {
			return err // cannot happen with istiod; a NACK would hide a bug in the stand-in
		}
		entries = append(entries, &entry{name: name, raw: r})
	}

	var follow []func() error
	switch typeURL {
	case typeCluster:
		c.state.replace(typeURL, resp.GetVersionInfo(), now, entries)
		eds := edsNames(entries)
		c.mu.Lock()
		edsSub := c.subs[typeEndpoint]
		changed := edsSub == nil || !slices.Equal(edsSub.names, eds)
		c.mu.Unlock()
		if changed && len(eds) > 0 {
			follow = append(follow, func() error { return c.subscribe(send, typeEndpoint, eds) })
		}
		if len(eds) == 0 {
			c.state.prune(typeEndpoint, map[string]bool{})
		}
	case typeEndpoint:
		c.state.merge(typeURL, resp.GetVersionInfo(), now, entries, c.subscribedSet(typeEndpoint))
	case typeListener:
		c.state.replace(typeURL, resp.GetVersionInfo(), now, entries)
		rds := rdsNames(entries)
		c.mu.Lock()
		rdsSub := c.subs[typeRoute]
		changed := rdsSub == nil || !slices.Equal(rdsSub.names, rds)
		c.mu.Unlock()
		if changed && len(rds) > 0 {
			follow = append(follow, func() error { return c.subscribe(send, typeRoute, rds) })
		}
		if len(rds) == 0 {
			c.state.prune(typeRoute, map[string]bool{})
		}
	case typeRoute:
		c.state.merge(typeURL, resp.GetVersionInfo(), now, entries, c.subscribedSet(typeRoute))
	}

	// Envoy sends a changed EDS/RDS subscription before it ACKs the CDS/LDS response that
	// caused it.
	for _, f := range follow {
		if err := f(); err != nil {
			return err
		}
	}
	c.mu.Lock()
	sub := c.subs[typeURL]
	if sub == nil {
		sub = &subscription{requested: true}
		c.subs[typeURL] = sub
	}
	sub.version, sub.nonce, sub.acked = resp.GetVersionInfo(), resp.GetNonce(), true
	names := sub.names
	c.mu.Unlock()
	if err := send(typeURL, names, resp.GetVersionInfo(), resp.GetNonce()); err != nil {
		return err
	}

	// LDS follows once the clusters are warm: CDS accepted and, if any, EDS received.
	c.mu.Lock()
	cds, eds, lds, rds := c.subs[typeCluster], c.subs[typeEndpoint], c.subs[typeListener], c.subs[typeRoute]
	warm := cds != nil && cds.acked && (eds == nil || !eds.requested || eds.acked)
	needLDS := warm && (lds == nil || !lds.requested)
	synced := warm && lds != nil && lds.acked && (rds == nil || !rds.requested || rds.acked)
	c.mu.Unlock()
	if needLDS {
		if err := c.subscribe(send, typeListener, nil); err != nil {
			return err
		}
	}
	if synced {
		c.syncedOnce.Do(func() { close(c.synced) })
	}
	return nil
}

func (c *xdsClient) subscribedSet(typeURL string) map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	sub := c.subs[typeURL]
	if sub == nil {
		return nil
	}
	set := make(map[string]bool, len(sub.names))
	for _, n := range sub.names {
		set[n] = true
	}
	return set
}

// resourceName reads the name of a Cluster, Listener, RouteConfiguration or
// ClusterLoadAssignment: field 1 in all four, so the resource need not be parsed whole.
func resourceName(typeURL string, b []byte) (string, error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", fmt.Errorf("malformed %s resource", shortType(typeURL))
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return "", fmt.Errorf("malformed %s resource", shortType(typeURL))
			}
			return string(v), nil
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return "", fmt.Errorf("malformed %s resource", shortType(typeURL))
		}
		b = b[m:]
	}
	return "", fmt.Errorf("%s resource without a name", shortType(typeURL))
}

// edsNames lists the EDS service names of the EDS clusters.
func edsNames(entries []*entry) []string {
	var names []string
	for _, e := range entries {
		c := &clusterv3.Cluster{}
		if err := e.raw.UnmarshalTo(c); err != nil {
			continue
		}
		if c.GetType() != clusterv3.Cluster_EDS {
			continue
		}
		n := c.GetEdsClusterConfig().GetServiceName()
		if n == "" {
			n = c.GetName()
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return slices.Compact(names)
}

// rdsNames lists the route configs the listeners' HTTP connection managers fetch over RDS.
func rdsNames(entries []*entry) []string {
	var names []string
	for _, e := range entries {
		l := &listenerv3.Listener{}
		if err := e.raw.UnmarshalTo(l); err != nil {
			continue
		}
		chains := l.GetFilterChains()
		if d := l.GetDefaultFilterChain(); d != nil {
			chains = append(chains, d)
		}
		for _, fc := range chains {
			for _, f := range fc.GetFilters() {
				h := &hcmv3.HttpConnectionManager{}
				if f.GetTypedConfig().MessageIs(h) && f.GetTypedConfig().UnmarshalTo(h) == nil {
					if n := h.GetRds().GetRouteConfigName(); n != "" {
						names = append(names, n)
					}
				}
			}
		}
	}
	sort.Strings(names)
	return slices.Compact(names)
}

func shortType(t string) string {
	switch t {
	case typeCluster:
		return "CDS"
	case typeEndpoint:
		return "EDS"
	case typeListener:
		return "LDS"
	case typeRoute:
		return "RDS"
	}
	return t
}
