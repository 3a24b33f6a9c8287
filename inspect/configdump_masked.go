package inspect

import (
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
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
		"transport_socket_matches.match", "transport_socket_matches.transport_socket.typed_config",
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
}

var loadAssignmentFields = []string{
	"cluster_name",
	"endpoints.lb_endpoints.health_status", "endpoints.lb_endpoints.metadata.filter_metadata",
	"endpoints.lb_endpoints.endpoint.address.socket_address.address",
	"endpoints.lb_endpoints.endpoint.address.socket_address.port_value",
	"endpoints.lb_endpoints.endpoint.address.socket_address.named_port",
	"endpoints.lb_endpoints.endpoint.address.pipe.path",
	"endpoints.lb_endpoints.endpoint.address.envoy_internal_address.server_listener_name",
}

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

// keptTypes are kept as messages when decoded from an Any (config sections and the clusters,
// listeners… in them), not marshalled back into it: ProxyConfig takes them as they are.
func keptType(name protoreflect.FullName) bool {
	switch name {
	case "envoy.config.cluster.v3.Cluster", "envoy.config.endpoint.v3.ClusterLoadAssignment",
		"envoy.config.listener.v3.Listener", "envoy.config.route.v3.RouteConfiguration":
		return true
	}
	return strings.HasPrefix(string(name), "envoy.admin.v3.")
}

// msgPlan says, for one message type, which fields are read; it knows every field by both
// JSON spellings so that duplicates and oneof clashes are caught as protojson catches them.
type msgPlan struct {
	typ    protoreflect.MessageType // of the plans in anyPlans
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
		p.typ = mt
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

// maskedDecoder decodes JSON into messages by their plans.
type maskedDecoder struct {
	jsonScanner
	// kept are the messages decoded from Anys of keptType.
	kept map[*anypb.Any]proto.Message
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

func (d *maskedDecoder) message(m protoreflect.Message, p *msgPlan) {
	var seen seenFields
	for key := range d.members() {
		d.member(m, p, key, &seen)
	}
}

// member reads one field of an object, as protojson's unmarshalMessage does.
func (d *maskedDecoder) member(m protoreflect.Message, p *msgPlan, key []byte, seen *seenFields) {
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
		list := m.Mutable(fd).List()
		for range d.elements() {
			if fd.Message() != nil {
				d.messageValue(list.AppendMutable().Message(), fd, fp.sub)
			} else {
				list.Append(d.scalar(fd))
			}
		}
	case fd.IsMap():
		mp := m.Mutable(fd).Map()
		vd := fd.MapValue()
		for key := range d.members() {
			k := protoreflect.ValueOfString(string(key)).MapKey()
			if mp.Has(k) {
				d.fail() // duplicate map key
				return
			}
			if fp.structKeys != nil {
				if only, ok := fp.structKeys[string(key)]; ok && d.peek() == '{' {
					d.structValue(mp.Mutable(k).Message().Interface().(*structpb.Struct), only)
				} else {
					d.skip()
				}
				continue
			}
			if vd.Message() != nil {
				d.messageValue(mp.Mutable(k).Message(), vd, fp.sub)
			} else {
				mp.Set(k, d.scalar(vd))
			}
		}
	case fd.Message() != nil:
		d.messageValue(m.Mutable(fd).Message(), fd, fp.sub)
	default:
		if v := d.scalar(fd); v.IsValid() {
			m.Set(fd, v)
		}
	}
}

func isValueField(fd protoreflect.FieldDescriptor) bool {
	if fd.Message() != nil {
		return fd.Message().FullName() == "google.protobuf.Value"
	}
	return fd.Enum() != nil && fd.Enum().FullName() == "google.protobuf.NullValue"
}

// messageValue reads a message-typed value (not null, unless a google.protobuf.Value).
func (d *maskedDecoder) messageValue(m protoreflect.Message, fd protoreflect.FieldDescriptor, p *msgPlan) {
	switch name := fd.Message().FullName(); name {
	case "google.protobuf.Any":
		d.anyValue(m.Interface().(*anypb.Any))
	case "google.protobuf.Struct":
		d.structValue(m.Interface().(*structpb.Struct), nil)
	case "google.protobuf.Value":
		*m.Interface().(*structpb.Value) = *d.jsonValue()
	case "google.protobuf.ListValue":
		d.listValue(m.Interface().(*structpb.ListValue))
	case "google.protobuf.Duration":
		d.duration(m.Interface().(*durationpb.Duration))
	default:
		if wellKnown(name) {
			// Wrappers are their value; other well-known types are not among readFields.
			vfd := fd.Message().Fields().ByName("value")
			if vfd == nil || fd.Message().Fields().Len() != 1 {
				d.fail()
				return
			}
			if v := d.scalar(vfd); v.IsValid() {
				m.Set(vfd, v)
			}
			return
		}
		if d.peek() != '{' {
			d.fail()
			return
		}
		d.message(m, p)
	}
}

// anyValue reads an Any: its type URL, and its content when readFields lists the type.
// "@type" must come first, as Envoy writes it.
func (d *maskedDecoder) anyValue(a *anypb.Any) {
	var em protoreflect.Message
	var p *msgPlan
	var seen seenFields
	first := true
	for key := range d.members() {
		if !first {
			if string(key) == "@type" {
				d.fail()
				return
			}
			if em == nil {
				d.skip()
			} else {
				d.member(em, p, key, &seen)
			}
			continue
		}
		first = false
		if string(key) != "@type" || d.peek() != '"' {
			d.fail()
			return
		}
		a.TypeUrl = d.string()
		em, p = d.anyType(a.TypeUrl)
	}
	if em == nil || d.err != nil {
		return
	}
	if keptType(em.Descriptor().FullName()) {
		d.kept[a] = em.Interface()
		return
	}
	b, err := proto.MarshalOptions{AllowPartial: true, Deterministic: true}.Marshal(em.Interface())
	if err != nil {
		d.fail()
		return
	}
	a.Value = b
}

// anyType resolves a type URL as jsonOptions' resolver does: a new message when the type is read,
// nil when it is not; a type name that is not one fails.
func (d *maskedDecoder) anyType(url string) (protoreflect.Message, *msgPlan) {
	name := protoreflect.FullName(url[strings.LastIndexByte(url, '/')+1:])
	if p := anyPlans[name]; p != nil {
		return p.typ.New(), p
	}
	if !name.IsValid() {
		d.fail()
	}
	return nil, nil
}

// structValue reads a Struct, only the keys in only when it is not nil.
func (d *maskedDecoder) structValue(s *structpb.Struct, only []string) {
	if d.peek() != '{' {
		d.fail()
		return
	}
	s.Fields = map[string]*structpb.Value{}
	for key := range d.members() {
		if only != nil && !slices.Contains(only, string(key)) {
			d.skip()
			continue
		}
		k := string(key)
		if _, dup := s.Fields[k]; dup {
			d.fail()
			return
		}
		s.Fields[k] = d.jsonValue()
	}
}

func (d *maskedDecoder) listValue(l *structpb.ListValue) {
	if d.peek() != '[' {
		d.fail()
		return
	}
	l.Values = []*structpb.Value{}
	for range d.elements() {
		l.Values = append(l.Values, d.jsonValue())
	}
}

func (d *maskedDecoder) jsonValue() *structpb.Value {
	switch d.peek() {
	case '{':
		s := &structpb.Struct{}
		d.structValue(s, nil)
		return structpb.NewStructValue(s)
	case '[':
		l := &structpb.ListValue{}
		d.listValue(l)
		return structpb.NewListValue(l)
	case '"':
		return structpb.NewStringValue(d.string())
	case 't':
		d.literal("true")
		return structpb.NewBoolValue(true)
	case 'f':
		d.literal("false")
		return structpb.NewBoolValue(false)
	case 'n':
		d.literal("null")
		return structpb.NewNullValue()
	}
	f, err := strconv.ParseFloat(string(d.number()), 64)
	if err != nil {
		d.fail()
	}
	return structpb.NewNumberValue(f)
}

// duration reads "1.5s": what protojson accepts, but for the forms Envoy never writes ("+1s", ".5s").
func (d *maskedDecoder) duration(dur *durationpb.Duration) {
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
	dur.Seconds, dur.Nanos = secs, int32(nanos)
}

// scalar reads a bool, string, integer or enum field's value; an invalid Value for an enum
// name this binary does not know (which protojson, discarding unknowns, leaves unset).
func (d *maskedDecoder) scalar(fd protoreflect.FieldDescriptor) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		switch d.peek() {
		case 't':
			d.literal("true")
			return protoreflect.ValueOfBool(true)
		case 'f':
			d.literal("false")
			return protoreflect.ValueOfBool(false)
		}
	case protoreflect.StringKind:
		if d.peek() == '"' {
			return protoreflect.ValueOfString(d.string())
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, _ := d.integer(true, 32)
		return protoreflect.ValueOfInt32(int32(n))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, _ := d.integer(true, 64)
		return protoreflect.ValueOfInt64(n)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		_, n := d.integer(false, 32)
		return protoreflect.ValueOfUint32(uint32(n))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		_, n := d.integer(false, 64)
		return protoreflect.ValueOfUint64(n)
	case protoreflect.EnumKind:
		if d.peek() == '"' {
			if ev := fd.Enum().Values().ByName(protoreflect.Name(d.stringBytes())); ev != nil {
				return protoreflect.ValueOfEnum(ev.Number())
			}
			// protojson leaves an unknown name unset in a singular field; a list is rarer: let it decide.
			if fd.IsList() {
				d.fail()
			}
			return protoreflect.Value{}
		}
		n, _ := d.integer(true, 32)
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n))
	}
	d.fail()
	return protoreflect.Value{}
}

// parseConfigDumpMasked decodes a JSON config dump by readFields; errNotFast when it cannot decide.
func parseConfigDumpMasked(b []byte) (*ProxyConfig, error) {
	d := &maskedDecoder{jsonScanner: jsonScanner{b: b}, kept: map[*anypb.Any]proto.Message{}}
	resource := func(a *anypb.Any) proto.Message { return d.kept[a] }
	pc := &ProxyConfig{}
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
			a := &anypb.Any{}
			d.anyValue(a)
			if d.err != nil {
				break
			}
			pc.addSection(a.GetTypeUrl(), resource(a), resource)
		}
	}
	d.end()
	if d.err != nil {
		return nil, d.err
	}
	return pc, nil
}
