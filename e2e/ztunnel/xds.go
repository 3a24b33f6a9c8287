package ztunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/kubectl-egress/kubectl-egress/e2e/xdsretry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"

	"istio.io/istio/pkg/workloadapi"
	"istio.io/istio/pkg/workloadapi/security"
)

// The types of istiod's workload discovery (pilot/pkg/xds/v3): ztunnel subscribes to both with a
// wildcard on one delta ADS stream.
const (
	addressType       = "type.googleapis.com/istio.workload.Address"
	authorizationType = "type.googleapis.com/istio.security.Authorization"
)

// xdsClient is a delta ADS client that subscribes the way ztunnel does (src/xds/client.rs):
// Authorization, then Address, wildcard, and ACKs every response.
type xdsClient struct {
	conn  *grpc.ClientConn
	node  *corev3.Node
	state *state

	synced     chan struct{}
	syncedOnce sync.Once

	retry xdsretry.Loop
}

func newXDSClient(addr string, node *corev3.Node, st *state) (*xdsClient, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20)))
	if err != nil {
		return nil, err
	}
	return &xdsClient{conn: conn, node: node, state: st, synced: make(chan struct{})}, nil
}

// nodeOf is the node ztunnel sends: id ztunnel~IP~POD.NS~NS.svc.cluster.local and the metadata
// NAME, NAMESPACE, INSTANCE_IPS and NODE_NAME, plus its proxy metadata.
func nodeOf(cfg Config) *corev3.Node {
	md, err := structpb.NewStruct(map[string]any{
		"NAME": cfg.Name, "NAMESPACE": cfg.Namespace, "INSTANCE_IPS": cfg.IP, "NODE_NAME": cfg.Node,
		"CLUSTER_ID": "Kubernetes", "ISTIO_VERSION": cfg.IstioVersion, "ENABLE_HBONE": "true",
	})
	if err != nil {
		panic(err) // static types only
	}
	return &corev3.Node{
		Id:       fmt.Sprintf("ztunnel~%s~%s.%s~%s.svc.cluster.local", cfg.IP, cfg.Name, cfg.Namespace, cfg.Namespace),
		Metadata: md,
	}
}

func (c *xdsClient) close() error { return c.conn.Close() }

func (c *xdsClient) progress() string {
	attempts, lastErr := c.retry.Status()
	s := fmt.Sprintf("%d connection attempts", attempts)
	if lastErr != nil {
		s += ", last error: " + lastErr.Error()
	}
	return s
}

// run keeps a stream open until ctx ends, reconnecting with jittered exponential backoff.
func (c *xdsClient) run(ctx context.Context) { c.retry.Run(ctx, c.stream) }

func (c *xdsClient) stream(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(c.conn).DeltaAggregatedResources(ctx)
	if err != nil {
		return err
	}
	// On a reconnect ztunnel sends what it holds, so istiod sends only what changed.
	for i, typeURL := range []string{authorizationType, addressType} {
		req := &discoveryv3.DeltaDiscoveryRequest{TypeUrl: typeURL, InitialResourceVersions: c.state.versions(typeURL)}
		if i == 0 {
			req.Node = c.node
		}
		if err := stream.Send(req); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for {
		resp, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("istiod closed the stream")
			}
			return err
		}
		ack := &discoveryv3.DeltaDiscoveryRequest{TypeUrl: resp.GetTypeUrl(), ResponseNonce: resp.GetNonce()}
		if err := c.apply(resp); err != nil {
			ack.ErrorDetail = nackStatus(err)
		}
		if err := stream.Send(ack); err != nil {
			return err
		}
		seen[resp.GetTypeUrl()] = true
		if seen[addressType] && seen[authorizationType] {
			c.syncedOnce.Do(func() { close(c.synced) })
		}
	}
}

// apply decodes one response into the state: upserts, then removals.
func (c *xdsClient) apply(resp *discoveryv3.DeltaDiscoveryResponse) error {
	switch resp.GetTypeUrl() {
	case addressType:
		var upserts []named[*workloadapi.Address]
		for _, r := range resp.GetResources() {
			a := &workloadapi.Address{}
			if err := r.GetResource().UnmarshalTo(a); err != nil {
				return fmt.Errorf("address %s: %w", r.GetName(), err)
			}
			upserts = append(upserts, named[*workloadapi.Address]{r.GetName(), r.GetVersion(), a})
		}
		c.state.applyAddresses(upserts, resp.GetRemovedResources())
	case authorizationType:
		var upserts []named[*security.Authorization]
		for _, r := range resp.GetResources() {
			a := &security.Authorization{}
			if err := r.GetResource().UnmarshalTo(a); err != nil {
				return fmt.Errorf("authorization %s: %w", r.GetName(), err)
			}
			upserts = append(upserts, named[*security.Authorization]{r.GetName(), r.GetVersion(), a})
		}
		c.state.applyAuthorizations(upserts, resp.GetRemovedResources())
	}
	return nil
}
