package inspect

// Admin paths the fetch side requests from a sidecar (relative to the admin address,
// 127.0.0.1:15000 by default). Each uses Envoy's own filters so only what the classifier
// reads crosses the port-forward.
const (
	// ClustersConfigPath lists the dynamic clusters, each trimmed by Envoy's field mask
	// (applied per DynamicCluster) to the fields the classifier reads: the name, the
	// discovery type, the TLS transport sockets (origination vs. Istio mTLS), the istio
	// metadata (external, services, subset, DestinationRule), the inline load assignment
	// (a ServiceEntry's targetPort shows there), the protocol options (auto_sni, HTTP idle
	// timeout, requests per connection), and the connection limits a DestinationRule sets
	// (connect timeout, circuit breakers, outlier detection).
	ClustersConfigPath = "config_dump?resource=dynamic_active_clusters&mask=" +
		"cluster.name,cluster.type,cluster.transport_socket,cluster.transport_socket_matches," +
		"cluster.metadata,cluster.load_assignment,cluster.typed_extension_protocol_options," +
		"cluster.connect_timeout,cluster.circuit_breakers,cluster.outlier_detection"

	// StaticClustersConfigPath lists the bootstrap's static clusters (xds-grpc, sds-grpc, agent,
	// prometheus_stats…) by name and type: istioctl proxy-config cluster lists them too.
	StaticClustersConfigPath = "config_dump?resource=static_clusters&mask=cluster.name,cluster.type"

	// VirtualOutboundConfigPath is the virtualOutbound listener alone: its catch-all chain is the
	// effective outbound mode, and its access_log the proxy's access logging and format. It is
	// read first, with the stats, since it decides what else to read (readplan.go).
	VirtualOutboundConfigPath = "config_dump?resource=dynamic_listeners&name_regex=%5EvirtualOutbound%24"

	// OutboundListenersConfigPath lists the other outbound listeners that decide what leaves the
	// pod: the 0.0.0.0_PORT listeners (SNI chains to egress gateways, access_log settings) and the
	// IP_PORT ones (a ServiceEntry's addresses: the only place the proxy ties an IP-only host to its
	// cluster), not virtualInbound.
	OutboundListenersConfigPath = "config_dump?resource=dynamic_listeners&name_regex=%5E%5B0-9a-fA-F.%3A%5C%5B%5C%5D%5D%2B_%5B0-9%5D%2B%24"

	// RoutesConfigPath lists the route configurations (virtual hosts name external HTTP
	// hosts and the egress gateway they are sent to; allow_any / block_all).
	RoutesConfigPath = "config_dump?resource=dynamic_route_configs"

	// FullConfigDumpPath is the whole dump with EDS endpoints, for --file captures and debugging.
	FullConfigDumpPath = "config_dump?include_eds"

	// ClusterStatusPath lists every cluster's hosts; PassthroughCluster's hosts are the
	// original destinations (IP:port) recently used.
	ClusterStatusPath = "clusters?format=json"

	// StatsPath is the Prometheus exposition of only the stats that reveal egress, and the count
	// of the proxy's clusters.
	StatsPath = "stats/prometheus?filter=istio_requests_total%7Cistio_tcp_%28connections_opened%7Cconnections_closed%7Csent_bytes%7Creceived_bytes%29_total%7C%5Ecluster%5C.%28PassthroughCluster%7CBlackHoleCluster%7Coutbound%5C%7C%5B%5E%3B%5D%2A%29%3B%3F%5C.upstream_%28cx_total%7Crq_total%7Ccx_tx_bytes_total%7Ccx_rx_bytes_total%29%24%7C%5Ecluster_manager%5C.active_clusters%24"

	// ServerInfoPath gives the Envoy version and the node metadata (ISTIO_VERSION).
	ServerInfoPath = "server_info"
)

// OutboundListenersRegex selects the outbound listeners named ADDRESS_PORT (Istio names them
// 0.0.0.0_443, 198.51.100.7_8443, [2001:db8::7]_8443), not virtualOutbound or virtualInbound.
const OutboundListenersRegex = `^[0-9a-fA-F.:\[\]]+_[0-9]+$`

// StatsRegex is matched (RE2, partial match) by Envoy against its own stat names, not the
// Prometheus names: Istio's standard metrics are `istiocustom.istio_requests_total.…` and
// per-cluster stats are `cluster.NAME.upstream_…` or, since Istio 1.23, `cluster.NAME;.upstream_…`.
const StatsRegex = `istio_requests_total|istio_tcp_(connections_opened|connections_closed|sent_bytes|received_bytes)_total|` +
	`^cluster\.(PassthroughCluster|BlackHoleCluster|outbound\|[^;]*);?\.upstream_(cx_total|rq_total|cx_tx_bytes_total|cx_rx_bytes_total)$|` +
	`^cluster_manager\.active_clusters$`
