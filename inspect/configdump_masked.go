package inspect

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// A config dump is mostly what the report never reads (filters, stats configs, per-service
// metadata…), and protojson decoding all of it, resolving every nested Any twice, is what made
// a big mesh's dump take seconds. The masked decoder reads a dump with protojson's rules but
// fills only the fields listed below, and checks only the syntax of the rest. A field the
// classifier starts to read must be added here (TestMaskedDecoderMatchesProtojson compares the
// two decoders through the classifier on every dump we hold).

// readFields are the fields read of each resource and config section, as paths of proto field
// names; a message field named without sub-fields is read as present and empty. Struct,
// Duration and wrapper fields are read whole; an Any is read when its type is listed here.
var readFields = map[protoreflect.FullName][]string{
	"envoy.config.cluster.v3.Cluster": append([]string{
		"name", "type", "cluster_type.name", "metadata.filter_metadata", "connect_timeout",
		"transport_socket.typed_config",
		"transport_socket_matches.name", "transport_socket_matches.match", "transport_socket_matches.transport_socket.typed_config",
		"circuit_breakers.thresholds.priority", "circuit_breakers.thresholds.max_connections",
		"circuit_breakers.thresholds.max_pending_requests", "circuit_breakers.thresholds.max_requests",
		"typed_extension_protocol_options",
		"outlier_detection.consecutive_5xx", "outlier_detection.consecutive_gateway_failure",
		"outlier_detection.interval", "outlier_detection.base_ejection_time", "outlier_detection.max_ejection_percent",
	}, under("load_assignment", loadAssignmentFields)...),
	"envoy.config.endpoint.v3.ClusterLoadAssignment": loadAssignmentFields,
	"envoy.config.listener.v3.Listener": append(append([]string{
		"name", "traffic_direction", "address.socket_address.address", "address.socket_address.port_value",
		"access_log.typed_config",
	}, under("filter_chains", filterChainFields)...), under("default_filter_chain", filterChainFields)...),
	"envoy.config.route.v3.RouteConfiguration": routeConfigFields,

	// Typed configs inside those resources.
	"envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext": {
		"sni", "common_tls_context.tls_certificate_sds_secret_configs.name", "common_tls_context.tls_certificates",
	},
	// A waypoint's cluster wraps its transport socket (the TLS to the host) in this one.
	"envoy.extensions.transport_sockets.internal_upstream.v3.InternalUpstreamTransport": {"transport_socket.typed_config"},
	"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
		"common_http_protocol_options.max_requests_per_connection", "common_http_protocol_options.idle_timeout",
		"upstream_http_protocol_options.auto_sni",
	},
	"envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy": {
		"cluster", "weighted_clusters.clusters.name", "access_log.typed_config",
	},
	"envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager": append([]string{
		"access_log.typed_config",
	}, under("route_config", routeConfigFields)...),
	"envoy.extensions.access_loggers.file.v3.FileAccessLog": {
		"path", "format", "json_format",
		"log_format.json_format", "log_format.text_format", "log_format.text_format_source.inline_string",
	},

	// Config sections, whole and filtered by resource=.
	"envoy.admin.v3.BootstrapConfigDump": {
		"bootstrap.node.id", "bootstrap.node.metadata",
		"bootstrap.node.user_agent_build_version.version.major_number",
		"bootstrap.node.user_agent_build_version.version.minor_number",
		"bootstrap.node.user_agent_build_version.version.patch",
	},
	"envoy.admin.v3.ClustersConfigDump":                {"dynamic_active_clusters.cluster", "static_clusters.cluster"},
	"envoy.admin.v3.ClustersConfigDump.DynamicCluster": {"cluster"},
	"envoy.admin.v3.ClustersConfigDump.StaticCluster":  {"cluster"},
	"envoy.admin.v3.ListenersConfigDump": {
		"static_listeners.listener", "dynamic_listeners.active_state.listener", "dynamic_listeners.warming_state.listener",
	},
	"envoy.admin.v3.ListenersConfigDump.DynamicListener":       {"active_state.listener", "warming_state.listener"},
	"envoy.admin.v3.ListenersConfigDump.StaticListener":        {"listener"},
	"envoy.admin.v3.RoutesConfigDump":                          {"static_route_configs.route_config", "dynamic_route_configs.route_config"},
	"envoy.admin.v3.RoutesConfigDump.DynamicRouteConfig":       {"route_config"},
	"envoy.admin.v3.RoutesConfigDump.StaticRouteConfig":        {"route_config"},
	"envoy.admin.v3.EndpointsConfigDump":                       {"static_endpoint_configs.endpoint_config", "dynamic_endpoint_configs.endpoint_config"},
	"envoy.admin.v3.EndpointsConfigDump.DynamicEndpointConfig": {"endpoint_config"},
	"envoy.admin.v3.EndpointsConfigDump.StaticEndpointConfig":  {"endpoint_config"},

	// The other admin outputs in JSON (unmarshalAdminJSON): /clusters?format=json and /server_info.
	"envoy.admin.v3.Clusters": append([]string{
		"cluster_statuses.name", "cluster_statuses.host_statuses.stats.name", "cluster_statuses.host_statuses.stats.value",
	}, under("cluster_statuses.host_statuses", append(under("address", addressFields),
		"health_status.failed_active_health_check", "health_status.failed_outlier_check",
		"health_status.failed_active_degraded_check", "health_status.pending_active_hc",
		"health_status.pending_dynamic_removal", "health_status.eds_health_status"))...),
	"envoy.admin.v3.ServerInfo": {
		"version", "state", "node.id", "node.metadata",
		"node.user_agent_build_version.version.major_number",
		"node.user_agent_build_version.version.minor_number",
		"node.user_agent_build_version.version.patch",
	},
}

// addressFields are what addressString reads of an Address.
var addressFields = []string{
	"socket_address.address", "socket_address.port_value", "socket_address.named_port",
	"pipe.path", "envoy_internal_address.server_listener_name",
}

var loadAssignmentFields = append([]string{
	"cluster_name",
	"endpoints.lb_endpoints.health_status", "endpoints.lb_endpoints.metadata.filter_metadata",
}, under("endpoints.lb_endpoints.endpoint.address", addressFields)...)

var filterChainFields = []string{
	"filter_chain_match.destination_port", "filter_chain_match.server_names",
	"filter_chain_match.transport_protocol", "filter_chain_match.application_protocols",
	"filter_chain_match.prefix_ranges.address_prefix", "filter_chain_match.prefix_ranges.prefix_len",
	"filters.typed_config",
}

var routeConfigFields = []string{
	"name", "virtual_hosts.name",
	"virtual_hosts.routes.route.cluster", "virtual_hosts.routes.route.weighted_clusters.clusters.name",
	"virtual_hosts.routes.route.host_rewrite_literal",
}

// readMetadata narrows every filter_metadata map read (a cluster's, an endpoint's) to the
// filters and keys the report reads: Istio's cluster facts, and the endpoint label auto mTLS
// matches on. A ServiceEntry cluster's "istio" metadata also lists its services, which is most
// of it.
var readMetadata = map[string][]string{
	"istio":                        {"external", "config"},
	"envoy.transport_socket_match": {"tlsMode"},
}

func under(prefix string, paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = prefix + "." + p
	}
	return out
}

// msgPlan says, for one message type, which fields are read; it knows every field by both
// JSON spellings so that duplicates and oneof clashes are caught as protojson catches them.
type msgPlan struct {
	desc   protoreflect.MessageDescriptor
	fields map[string]*fieldPlan
}

type fieldPlan struct {
	fd    protoreflect.FieldDescriptor
	index int
	read  bool
	sub   *msgPlan // for a message field (or map value) that is read and not well-known
	// structKeys, for filter_metadata, are the map keys read and the keys read of each one's Struct.
	structKeys map[string][]string
}

// maxPlanFields bounds a message's field count for the seen-field bitsets.
const maxPlanFields = 256

var anyPlans = func() map[protoreflect.FullName]*msgPlan {
	plans := map[protoreflect.FullName]*msgPlan{}
	for name, paths := range readFields {
		mt, err := protoregistry.GlobalTypes.FindMessageByName(name)
		if err != nil {
			panic("readFields: " + err.Error())
		}
		p := newMsgPlan(mt.Descriptor())
		for _, path := range paths {
			p.add(strings.Split(path, "."))
		}
		plans[name] = p
	}
	return plans
}()

func newMsgPlan(md protoreflect.MessageDescriptor) *msgPlan {
	fds := md.Fields()
	if fds.Len() > maxPlanFields {
		panic("readFields: too many fields in " + string(md.FullName()))
	}
	p := &msgPlan{desc: md, fields: make(map[string]*fieldPlan, 2*fds.Len())}
	for i := range fds.Len() {
		fd := fds.Get(i)
		fp := &fieldPlan{fd: fd, index: i}
		p.fields[fd.TextName()] = fp
		p.fields[fd.JSONName()] = fp // protojson tries the JSON name first
	}
	return p
}

func (p *msgPlan) add(path []string) {
	fp := p.fields[path[0]]
	if fp == nil || fp.fd.TextName() != path[0] {
		panic("readFields: no field " + path[0] + " in " + string(p.desc.FullName()))
	}
	fp.read = true
	if fp.fd.TextName() == "filter_metadata" {
		fp.structKeys = readMetadata
	}
	fd := fp.fd
	if fd.IsMap() {
		fd = fd.MapValue()
		if fp.fd.MapKey().Kind() != protoreflect.StringKind {
			panic("readFields: map keys must be strings: " + string(fp.fd.FullName()))
		}
	}
	if fd.Message() == nil || wellKnown(fd.Message().FullName()) {
		if len(path) > 1 {
			panic("readFields: cannot select inside " + string(fp.fd.FullName()))
		}
		return
	}
	if fp.sub == nil {
		fp.sub = newMsgPlan(fd.Message())
	}
	if len(path) > 1 {
		fp.sub.add(path[1:])
	}
}

func wellKnown(name protoreflect.FullName) bool {
	return name.Parent() == "google.protobuf"
}

// maskedDecoder turns JSON into the protobuf wire form of the fields read, which the fast binary
// decoder then turns into messages: no reflection per field, and an Any's content is its bytes.
type maskedDecoder struct {
	jsonScanner
	out []byte
}

type seenFields struct{ fields, oneofs [maxPlanFields / 64]uint64 }

func (s *seenFields) mark(set *[maxPlanFields / 64]uint64, i int) bool {
	bit := uint64(1) << (i % 64)
	if set[i/64]&bit != 0 {
		return false
	}
	set[i/64] |= bit
	return true
}

// beginField starts a length-delimited field; endField writes its length once its content is out.
func (d *maskedDecoder) beginField(num protowire.Number) int {
	d.out = protowire.AppendTag(d.out, num, protowire.BytesType)
	d.out = append(d.out, 0)
	return len(d.out)
}

func (d *maskedDecoder) endField(start int) {
	n := len(d.out) - start
	if n < 0x80 {
		d.out[start-1] = byte(n)
		return
	}
	size := protowire.SizeVarint(uint64(n))
	d.out = append(d.out, make([]byte, size-1)...)
	copy(d.out[start-1+size:], d.out[start:start+n])
	protowire.AppendVarint(d.out[:start-1], uint64(n))
}

func (d *maskedDecoder) message(p *msgPlan) {
	var seen seenFields
	for key := range d.members() {
		d.member(p, key, &seen)
	}
}

// member reads one field of an object, as protojson's unmarshalMessage does.
func (d *maskedDecoder) member(p *msgPlan, key []byte, seen *seenFields) {
	fp := p.fields[string(key)]
	if fp == nil {
		d.skip()
		return
	}
	fd := fp.fd
	if !seen.mark(&seen.fields, fp.index) {
		d.fail() // duplicate field
		return
	}
	if d.peek() == 'n' && !isValueField(fd) {
		d.literal("null")
		return
	}
	if od := fd.ContainingOneof(); od != nil && !fd.IsList() && !fd.IsMap() && !seen.mark(&seen.oneofs, od.Index()) {
		d.fail() // oneof already set
		return
	}
	if !fp.read {
		d.skip()
		return
	}
	switch {
	case fd.IsList():
		for range d.elements() {
			d.value(fd.Number(), fd, fp.sub)
		}
	case fd.IsMap():
		var keys keySet
		for key := range d.members() {
			k := string(key)
			if !keys.add(k) {
				d.fail() // duplicate map key
				return
			}
			only, read := fp.structKeys[k]
			if fp.structKeys != nil && !read {
				d.skip()
				continue
			}
			entry := d.beginField(fd.Number())
			d.out = protowire.AppendTag(d.out, 1, protowire.BytesType)
			d.out = protowire.AppendString(d.out, k)
			if fp.structKeys != nil {
				s := d.beginField(2)
				d.structBody(only)
				d.endField(s)
			} else {
				d.value(2, fd.MapValue(), fp.sub)
			}
			d.endField(entry)
		}
	default:
		d.value(fd.Number(), fd, fp.sub)
	}
}

// keySet tells a key seen before: a short list, a map once it is long.
type keySet struct {
	few  []string
	many map[string]bool
}

func (s *keySet) add(k string) bool {
	if s.many == nil && len(s.few) < 16 {
		if slices.Contains(s.few, k) {
			return false
		}
		s.few = append(s.few, k)
		return true
	}
	if s.many == nil {
		s.many = map[string]bool{}
		for _, f := range s.few {
			s.many[f] = true
		}
	}
	if s.many[k] {
		return false
	}
	s.many[k] = true
	return true
}

func isValueField(fd protoreflect.FieldDescriptor) bool {
	if fd.Message() != nil {
		return fd.Message().FullName() == "google.protobuf.Value"
	}
	return fd.Enum() != nil && fd.Enum().FullName() == "google.protobuf.NullValue"
}

// value reads the value of field fd (an element, for a list; the value, for a map entry) and
// writes it as field num.
func (d *maskedDecoder) value(num protowire.Number, fd protoreflect.FieldDescriptor, p *msgPlan) {
	if fd.Message() == nil {
		d.scalar(num, fd)
		return
	}
	name := fd.Message().FullName()
	switch {
	case name == "google.protobuf.Value":
		// The only value that may be null.
	case name == "google.protobuf.ListValue":
		if d.peek() != '[' {
			d.fail()
			return
		}
	case name == "google.protobuf.Duration" || wellKnown(name) && name != "google.protobuf.Any" && name != "google.protobuf.Struct":
	default:
		if d.peek() != '{' {
			d.fail()
			return
		}
	}
	start := d.beginField(num)
	switch name {
	case "google.protobuf.Any":
		d.anyBody()
	case "google.protobuf.Struct":
		d.structBody(nil)
	case "google.protobuf.Value":
		d.valueBody()
	case "google.protobuf.ListValue":
		d.listBody()
	case "google.protobuf.Duration":
		d.durationBody()
	default:
		if wellKnown(name) {
			// Wrappers are their value; other well-known types are not among readFields.
			vfd := fd.Message().Fields().ByName("value")
			if vfd == nil || fd.Message().Fields().Len() != 1 {
				d.fail()
				return
			}
			d.scalar(1, vfd)
		} else {
			d.message(p)
		}
	}
	d.endField(start)
}

// anyBody reads an Any: its type URL, and its content when readFields lists the type.
// "@type" must come first, as Envoy writes it.
func (d *maskedDecoder) anyBody() {
	var p *msgPlan
	var seen seenFields
	content := -1
	first := true
	for key := range d.members() {
		if !first {
			if string(key) == "@type" {
				d.fail()
				return
			}
			if p == nil {
				d.skip()
			} else {
				d.member(p, key, &seen)
			}
			continue
		}
		first = false
		if string(key) != "@type" || d.peek() != '"' {
			d.fail()
			return
		}
		url := d.stringBytes()
		d.out = protowire.AppendTag(d.out, 1, protowire.BytesType)
		d.out = protowire.AppendBytes(d.out, url)
		// Resolved as jsonOptions' resolver does: a type not read is kept by name, a name that
		// is none fails.
		name := protoreflect.FullName(url[bytes.LastIndexByte(url, '/')+1:])
		if p = anyPlans[name]; p != nil {
			content = d.beginField(2)
		} else if !name.IsValid() {
			d.fail()
			return
		}
	}
	if content >= 0 {
		d.endField(content)
	}
}

// structBody reads a Struct, only the keys in only when it is not nil.
func (d *maskedDecoder) structBody(only []string) {
	if d.peek() != '{' {
		d.fail()
		return
	}
	var keys keySet
	for key := range d.members() {
		if only != nil && !slices.Contains(only, string(key)) {
			d.skip()
			continue
		}
		k := string(key)
		if !keys.add(k) {
			d.fail()
			return
		}
		entry := d.beginField(1)
		d.out = protowire.AppendTag(d.out, 1, protowire.BytesType)
		d.out = protowire.AppendString(d.out, k)
		v := d.beginField(2)
		d.valueBody()
		d.endField(v)
		d.endField(entry)
	}
}

func (d *maskedDecoder) listBody() {
	for range d.elements() {
		v := d.beginField(1)
		d.valueBody()
		d.endField(v)
	}
}

// valueBody reads any JSON value as a google.protobuf.Value.
func (d *maskedDecoder) valueBody() {
	switch d.peek() {
	case '{':
		s := d.beginField(5)
		d.structBody(nil)
		d.endField(s)
	case '[':
		l := d.beginField(6)
		d.listBody()
		d.endField(l)
	case '"':
		d.out = protowire.AppendTag(d.out, 3, protowire.BytesType)
		d.out = protowire.AppendBytes(d.out, d.stringBytes())
	case 't':
		d.literal("true")
		d.out = protowire.AppendTag(d.out, 4, protowire.VarintType)
		d.out = protowire.AppendVarint(d.out, 1)
	case 'f':
		d.literal("false")
		d.out = protowire.AppendTag(d.out, 4, protowire.VarintType)
		d.out = protowire.AppendVarint(d.out, 0)
	case 'n':
		d.literal("null")
		d.out = protowire.AppendTag(d.out, 1, protowire.VarintType)
		d.out = protowire.AppendVarint(d.out, 0)
	default:
		f, err := strconv.ParseFloat(string(d.number()), 64)
		if err != nil {
			d.fail()
		}
		d.out = protowire.AppendTag(d.out, 2, protowire.Fixed64Type)
		d.out = protowire.AppendFixed64(d.out, math.Float64bits(f))
	}
}

// durationBody reads "1.5s": what protojson accepts, but for the forms Envoy never writes ("+1s", ".5s").
func (d *maskedDecoder) durationBody() {
	if d.peek() != '"' {
		d.fail()
		return
	}
	s := d.stringBytes()
	if len(s) < 2 || s[len(s)-1] != 's' {
		d.fail()
		return
	}
	s = s[:len(s)-1]
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	whole, frac, hasFrac := strings.Cut(string(s), ".")
	if !plainInteger([]byte(whole)) || whole[0] == '-' || hasFrac && (len(frac) == 0 || len(frac) > 9) {
		d.fail()
		return
	}
	secs, err := strconv.ParseInt(whole, 10, 64)
	const maxSeconds = 315576000000
	if err != nil || secs > maxSeconds {
		d.fail()
		return
	}
	var nanos int64
	if hasFrac {
		for _, c := range frac {
			if c < '0' || c > '9' {
				d.fail()
				return
			}
		}
		nanos, _ = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 32)
	}
	if neg {
		secs, nanos = -secs, -nanos
	}
	d.out = protowire.AppendTag(d.out, 1, protowire.VarintType)
	d.out = protowire.AppendVarint(d.out, uint64(secs))
	d.out = protowire.AppendTag(d.out, 2, protowire.VarintType)
	d.out = protowire.AppendVarint(d.out, uint64(nanos))
}

// scalar reads a bool, string, integer or enum and writes it as field num; an enum name this
// binary does not know is left out, as protojson, discarding unknowns, leaves it unset.
func (d *maskedDecoder) scalar(num protowire.Number, fd protoreflect.FieldDescriptor) {
	var v uint64
	switch fd.Kind() {
	case protoreflect.BoolKind:
		switch d.peek() {
		case 't':
			d.literal("true")
			v = 1
		case 'f':
			d.literal("false")
		default:
			d.fail()
		}
	case protoreflect.StringKind:
		if d.peek() != '"' {
			d.fail()
			return
		}
		d.out = protowire.AppendTag(d.out, num, protowire.BytesType)
		d.out = protowire.AppendBytes(d.out, d.stringBytes())
		return
	case protoreflect.Int32Kind:
		n, _ := d.integer(true, 32)
		v = uint64(n)
	case protoreflect.Int64Kind:
		n, _ := d.integer(true, 64)
		v = uint64(n)
	case protoreflect.Uint32Kind:
		_, v = d.integer(false, 32)
	case protoreflect.Uint64Kind:
		_, v = d.integer(false, 64)
	case protoreflect.EnumKind:
		if d.peek() == '"' {
			ev := fd.Enum().Values().ByName(protoreflect.Name(d.stringBytes()))
			if ev == nil {
				// protojson leaves an unknown name unset in a singular field; a list is rarer: let it decide.
				if fd.IsList() {
					d.fail()
				}
				return
			}
			v = uint64(ev.Number())
		} else {
			n, _ := d.integer(true, 32)
			v = uint64(n)
		}
	default:
		d.fail()
		return
	}
	d.out = protowire.AppendTag(d.out, num, protowire.VarintType)
	d.out = protowire.AppendVarint(d.out, v)
}

// unmarshalAdminJSON decodes an admin output in JSON into m, as jsonOptions.Unmarshal would for
// the fields readFields lists of m's type: by the masked decoder, or by protojson when the masked
// decoder cannot decide (protojson's error is the one to tell).
func unmarshalAdminJSON(b []byte, m proto.Message) error {
	if err := unmarshalMasked(b, m); err == nil {
		return nil
	}
	proto.Reset(m)
	return jsonOptions.Unmarshal(b, m)
}

// unmarshalMasked decodes b into m by readFields; errNotFast when it cannot decide.
func unmarshalMasked(b []byte, m proto.Message) error {
	p := anyPlans[m.ProtoReflect().Descriptor().FullName()]
	if p == nil {
		return errNotFast
	}
	d := &maskedDecoder{jsonScanner: jsonScanner{b: b}, out: make([]byte, 0, len(b)/4)}
	d.message(p)
	d.end()
	if d.err != nil {
		return d.err
	}
	if err := proto.Unmarshal(d.out, m); err != nil {
		return errNotFast
	}
	return nil
}

// parseConfigDumpMasked decodes a JSON config dump by readFields; errNotFast when it cannot decide.
func parseConfigDumpMasked(b []byte) (*ProxyConfig, error) {
	d := &maskedDecoder{jsonScanner: jsonScanner{b: b}, out: make([]byte, 0, len(b)/4)}
	seen := false
	for key := range d.members() {
		// A ConfigDump has one field, spelled alike in both forms.
		if string(key) != "configs" {
			d.skip()
			continue
		}
		if seen {
			d.fail()
			break
		}
		seen = true
		if d.null() {
			continue
		}
		for range d.elements() {
			if d.peek() != '{' {
				d.fail()
				break
			}
			a := d.beginField(1)
			d.anyBody()
			d.endField(a)
		}
	}
	d.end()
	if d.err != nil {
		return nil, d.err
	}
	var dump adminv3.ConfigDump
	if err := proto.Unmarshal(d.out, &dump); err != nil {
		return nil, errNotFast
	}
	return proxyConfigOf(&dump), nil
}
