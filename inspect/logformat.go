package inspect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// LogFormat is one Envoy access-log format, compiled for reading lines back: a text format
// string (`[%START_TIME%] "%REQ(:METHOD)% …`) or a JSON format (keys to command operators).
// A proxy's own formats come from the file access loggers of its listeners (meshConfig
// accessLogFormat and accessLogEncoding, Telemetry providers); without them, the defaults of
// each Istio era are tried.
type LogFormat struct {
	// Name says where the format came from: "Istio 1.9+ TEXT", "--log-format", a listener.
	Name string
	// lead is the literal text before the first operator; ops are the operators in order, each
	// with the literal that follows it. Both are empty for a JSON format.
	lead []byte
	ops  []textOp
	// keys maps each JSON key to the field its operator fills.
	keys map[string]logOp
}

type textOp struct {
	logOp
	next []byte
	// quoted: the value sits between quotes or brackets and may hold spaces.
	quoted bool
}

// logOp is one command operator the report reads.
type logOp struct {
	field logField
	// customTime: START_TIME with its own format, which is read when it is RFC 3339 and
	// otherwise left unread rather than failing the line.
	customTime bool
}

type logField int

const (
	fieldOther logField = iota
	fieldStartTime
	fieldMethod
	fieldPath
	fieldProtocol
	fieldResponseCode
	fieldResponseFlags
	fieldResponseCodeDetails
	fieldTerminationDetails
	fieldTransportFailure
	fieldBytesReceived
	fieldBytesSent
	fieldDuration
	fieldUserAgent
	fieldAuthority
	fieldUpstreamHost
	fieldUpstreamCluster
	fieldUpstreamLocal
	fieldDownstreamLocal
	fieldDownstreamRemote
	fieldSNI
	fieldRoute
)

// operatorFields are Envoy's command operators the report reads (header names upper-cased).
var operatorFields = map[string]logField{
	"START_TIME":                       fieldStartTime,
	"REQ(:METHOD)":                     fieldMethod,
	"REQ(X-ENVOY-ORIGINAL-PATH?:PATH)": fieldPath,
	"REQ(:PATH)":                       fieldPath,
	"REQ_WITHOUT_QUERY(X-ENVOY-ORIGINAL-PATH?:PATH)": fieldPath,
	"REQ_WITHOUT_QUERY(:PATH)":                       fieldPath,
	"PROTOCOL":                                       fieldProtocol,
	"RESPONSE_CODE":                                  fieldResponseCode,
	"RESPONSE_FLAGS":                                 fieldResponseFlags,
	"RESPONSE_CODE_DETAILS":                          fieldResponseCodeDetails,
	"CONNECTION_TERMINATION_DETAILS":                 fieldTerminationDetails,
	"UPSTREAM_TRANSPORT_FAILURE_REASON":              fieldTransportFailure,
	"BYTES_RECEIVED":                                 fieldBytesReceived,
	"BYTES_SENT":                                     fieldBytesSent,
	"DURATION":                                       fieldDuration,
	"REQ(USER-AGENT)":                                fieldUserAgent,
	"REQ(:AUTHORITY)":                                fieldAuthority,
	"REQ(HOST)":                                      fieldAuthority,
	"UPSTREAM_HOST":                                  fieldUpstreamHost,
	"UPSTREAM_CLUSTER":                               fieldUpstreamCluster,
	"UPSTREAM_CLUSTER_RAW":                           fieldUpstreamCluster,
	"UPSTREAM_LOCAL_ADDRESS":                         fieldUpstreamLocal,
	"DOWNSTREAM_LOCAL_ADDRESS":                       fieldDownstreamLocal,
	"DOWNSTREAM_REMOTE_ADDRESS":                      fieldDownstreamRemote,
	"REQUESTED_SERVER_NAME":                          fieldSNI,
	"ROUTE_NAME":                                     fieldRoute,
}

// The default formats of each Istio era (istio pilot/pkg/model/telemetry_logging.go and its
// predecessors in the injection and mesh templates). 1.23 moved the cluster field from
// %UPSTREAM_CLUSTER% (with a ";…" alt stat suffix) to %UPSTREAM_CLUSTER_RAW%; both read alike.
const (
	formatIstio19 = `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%` + "\n"
	formatIstio18 = `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%` + "\n"
	formatIstio13 = `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% "%DYNAMIC_METADATA(istio.mixer:status)%" "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%` + "\n"
	formatIstio11 = `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% "%DYNAMIC_METADATA(istio.mixer:status)%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME%` + "\n"
	formatIstio10 = `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME%` + "\n"
	// formatEnvoy is Envoy's own default, a file logger's when it sets no format.
	formatEnvoy = `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"` + "\n"
)

// jsonIstio is Istio's JSON encoding (1.9+; older eras lack the details keys, which a line may).
var jsonIstio = map[string]string{
	"start_time": "%START_TIME%", "route_name": "%ROUTE_NAME%", "method": "%REQ(:METHOD)%",
	"path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", "protocol": "%PROTOCOL%", "response_code": "%RESPONSE_CODE%",
	"response_flags": "%RESPONSE_FLAGS%", "response_code_details": "%RESPONSE_CODE_DETAILS%",
	"connection_termination_details": "%CONNECTION_TERMINATION_DETAILS%", "bytes_received": "%BYTES_RECEIVED%",
	"bytes_sent": "%BYTES_SENT%", "duration": "%DURATION%", "upstream_service_time": "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
	"x_forwarded_for": "%REQ(X-FORWARDED-FOR)%", "user_agent": "%REQ(USER-AGENT)%", "request_id": "%REQ(X-REQUEST-ID)%",
	"authority": "%REQ(:AUTHORITY)%", "upstream_host": "%UPSTREAM_HOST%", "upstream_cluster": "%UPSTREAM_CLUSTER_RAW%",
	"upstream_local_address": "%UPSTREAM_LOCAL_ADDRESS%", "downstream_local_address": "%DOWNSTREAM_LOCAL_ADDRESS%",
	"downstream_remote_address": "%DOWNSTREAM_REMOTE_ADDRESS%", "requested_server_name": "%REQUESTED_SERVER_NAME%",
	"upstream_transport_failure_reason": "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
}

// DefaultLogFormats are tried, in order, on a log whose proxy's own formats are not known.
var DefaultLogFormats = func() []*LogFormat {
	var out []*LogFormat
	for _, f := range []struct{ name, text string }{
		{"Istio 1.9+ TEXT", formatIstio19}, {"Istio 1.8 TEXT", formatIstio18}, {"Istio 1.3-1.7 TEXT", formatIstio13},
		{"Istio 1.1-1.2 TEXT (mixer status)", formatIstio11}, {"Istio 1.0-1.2 TEXT", formatIstio10}, {"Envoy default TEXT", formatEnvoy},
	} {
		lf, err := TextLogFormat(f.name, f.text)
		if err != nil {
			panic(err)
		}
		out = append(out, lf)
	}
	lf, err := JSONLogFormat("Istio JSON", jsonIstio)
	if err != nil {
		panic(err)
	}
	return append(out, lf)
}()

var operatorRE = regexp.MustCompile(`%([A-Z_]+(?:\([^)]*\))?(?::[0-9]+)?)%`)

// ParseLogFormat compiles a format a user gave: a JSON object of keys to operators, or an Envoy
// text format string.
func ParseLogFormat(name, s string) (*LogFormat, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "{") {
		var keys map[string]any
		if err := json.Unmarshal([]byte(t), &keys); err != nil {
			return nil, fmt.Errorf("%s: a JSON log format must be an object of keys to operators: %w", name, err)
		}
		m := map[string]string{}
		for k, v := range keys {
			if str, ok := v.(string); ok {
				m[k] = str
			}
		}
		return JSONLogFormat(name, m)
	}
	return TextLogFormat(name, s)
}

// TextLogFormat compiles an Envoy text format string.
func TextLogFormat(name, format string) (*LogFormat, error) {
	format = strings.TrimRight(format, "\r\n")
	locs := operatorRE.FindAllStringSubmatchIndex(format, -1)
	if len(locs) == 0 {
		return nil, fmt.Errorf("%s: no %%OPERATOR%% in log format %q", name, format)
	}
	lf := &LogFormat{Name: name, lead: []byte(format[:locs[0][0]])}
	for i, loc := range locs {
		end := len(format)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		before := format[:loc[0]]
		next := format[loc[1]:end]
		op := textOp{logOp: operatorOf(format[loc[2]:loc[3]]), next: []byte(next)}
		op.quoted = (strings.HasSuffix(before, `"`) || strings.HasSuffix(before, "[")) &&
			(strings.HasPrefix(next, `"`) || strings.HasPrefix(next, "]"))
		lf.ops = append(lf.ops, op)
	}
	return lf, lf.check(format)
}

// JSONLogFormat compiles a JSON format: each key's value is a command operator (or text).
func JSONLogFormat(name string, keys map[string]string) (*LogFormat, error) {
	lf := &LogFormat{Name: name, keys: map[string]logOp{}}
	for k, v := range keys {
		op := logOp{}
		if m := operatorRE.FindStringSubmatch(v); m != nil && m[0] == v {
			op = operatorOf(m[1])
		}
		lf.keys[k] = op
	}
	return lf, lf.check(fmt.Sprint(keys))
}

// check refuses a format that cannot name a destination: it must log the upstream cluster,
// the original destination, the authority or the SNI.
func (lf *LogFormat) check(format string) error {
	for _, f := range lf.fields() {
		switch f {
		case fieldUpstreamCluster, fieldDownstreamLocal, fieldAuthority, fieldSNI, fieldUpstreamHost:
			return nil
		}
	}
	return fmt.Errorf("%s: log format %q logs none of %%UPSTREAM_CLUSTER%%, %%DOWNSTREAM_LOCAL_ADDRESS%%, %%REQ(:AUTHORITY)%%, %%REQUESTED_SERVER_NAME%%, %%UPSTREAM_HOST%%: no destination can be read from it", lf.Name, format)
}

func (lf *LogFormat) fields() []logField {
	var out []logField
	for _, op := range lf.ops {
		out = append(out, op.field)
	}
	for _, op := range lf.keys {
		out = append(out, op.field)
	}
	return out
}

// same reports whether two formats read lines alike.
func (lf *LogFormat) same(o *LogFormat) bool {
	if lf.IsJSON() != o.IsJSON() || len(lf.ops) != len(o.ops) || len(lf.keys) != len(o.keys) || !bytes.Equal(lf.lead, o.lead) {
		return false
	}
	for i, op := range lf.ops {
		if op.logOp != o.ops[i].logOp || !bytes.Equal(op.next, o.ops[i].next) {
			return false
		}
	}
	for k, op := range lf.keys {
		if o.keys[k] != op {
			return false
		}
	}
	return true
}

// IsJSON reports whether the format is a JSON one.
func (lf *LogFormat) IsJSON() bool { return lf.keys != nil }

// operatorOf maps "REQ(:authority):64" or "START_TIME(%s)" to the field it fills.
func operatorOf(op string) logOp {
	if i := strings.LastIndexByte(op, ')'); i >= 0 && i+1 < len(op) && op[i+1] == ':' {
		op = op[:i+1]
	} else if i < 0 {
		op, _, _ = strings.Cut(op, ":")
	}
	if name, arg, ok := strings.Cut(op, "("); ok && name == "START_TIME" && arg != ")" {
		return logOp{field: fieldStartTime, customTime: true}
	}
	return logOp{field: operatorFields[strings.ToUpper(op)]}
}

// matchText reads line by the text format into e, or reports false when the line does not
// have the format's shape. An unquoted value never holds a space (Envoy prints "-" for empty
// and no operator the report reads has spaces unquoted), which keeps one era's format from
// reading another's line.
func (lf *LogFormat) matchText(line []byte, e *AccessLogEntry, strs *strTable) bool {
	if !bytes.HasPrefix(line, lf.lead) {
		return false
	}
	rest := line[len(lf.lead):]
	last := len(lf.ops) - 1
	for i, op := range lf.ops {
		var v []byte
		switch {
		case len(op.next) > 0:
			j := bytes.Index(rest, op.next)
			if j < 0 {
				return false
			}
			v, rest = rest[:j], rest[j+len(op.next):]
		case i == last && op.quoted:
			v, rest = rest, nil
		default:
			// The last operator, or two operators with nothing between them: up to a space.
			j := bytes.IndexByte(rest, ' ')
			if j < 0 {
				j = len(rest)
			}
			v, rest = rest[:j], rest[j:]
		}
		if !op.quoted && bytes.IndexByte(v, ' ') >= 0 {
			return false
		}
		if !e.set(op.logOp, v, strs) {
			return false
		}
	}
	return true
}

// matchJSON reads a decoded JSON line by the format's keys. The line must carry at least half of
// the format's keys (Envoy omits none unless told to omit empty values) and a readable start
// time when the format has one.
func (lf *LogFormat) matchJSON(obj map[string]json.RawMessage, e *AccessLogEntry, strs *strTable) bool {
	present, named := 0, false
	for k, op := range lf.keys {
		raw, ok := obj[k]
		if !ok {
			continue
		}
		present++
		switch op.field {
		case fieldUpstreamCluster, fieldDownstreamLocal, fieldAuthority, fieldSNI, fieldUpstreamHost:
			named = true
		}
		if !e.set(op, jsonScalar(raw), strs) {
			return false
		}
	}
	return named && 2*present >= len(lf.keys)
}

// jsonScalar is a JSON value as the text format would print it: null is "-".
func jsonScalar(raw json.RawMessage) []byte {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0, bytes.Equal(raw, []byte("null")):
		return []byte("-")
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return []byte(s)
		}
	}
	return raw
}

// textField and numberField say where each field of an entry is kept (nil: not kept).
func (e *AccessLogEntry) textField(f logField) *string {
	switch f {
	case fieldMethod:
		return &e.Method
	case fieldPath:
		return &e.Path
	case fieldProtocol:
		return &e.Protocol
	case fieldResponseFlags:
		return &e.ResponseFlags
	case fieldResponseCodeDetails:
		return &e.ResponseCodeDetails
	case fieldTerminationDetails:
		return &e.ConnectionTerminationDetails
	case fieldTransportFailure:
		return &e.UpstreamTransportFailureReason
	case fieldUserAgent:
		return &e.UserAgent
	case fieldAuthority:
		return &e.Authority
	case fieldUpstreamHost:
		return &e.UpstreamHost
	case fieldUpstreamCluster:
		return &e.UpstreamCluster
	case fieldUpstreamLocal:
		return &e.UpstreamLocalAddress
	case fieldDownstreamLocal:
		return &e.DownstreamLocalAddress
	case fieldDownstreamRemote:
		return &e.DownstreamRemoteAddress
	case fieldSNI:
		return &e.RequestedServerName
	case fieldRoute:
		return &e.RouteName
	}
	return nil
}

func (e *AccessLogEntry) numberField(f logField) *int64 {
	switch f {
	case fieldResponseCode:
		return &e.ResponseCode
	case fieldBytesReceived:
		return &e.BytesReceived
	case fieldBytesSent:
		return &e.BytesSent
	case fieldDuration:
		return &e.Duration
	}
	return nil
}

// set stores one value; false when it cannot be what the operator prints (a number that is
// not one, a start time that is not a time), so the line is not of this format. Strings come
// from strs when it is not nil.
func (e *AccessLogEntry) set(op logOp, v []byte, strs *strTable) bool {
	if p := e.textField(op.field); p != nil {
		s := strs.str(v)
		if op.field == fieldUpstreamCluster {
			s = clusterName(s)
		}
		*p = s
		return true
	}
	if p := e.numberField(op.field); p != nil {
		if len(v) == 0 || len(v) == 1 && v[0] == '-' {
			return true
		}
		n, ok := parseDecimal(v)
		*p = n
		return ok
	}
	if op.field == fieldStartTime {
		t, err := time.Parse(time.RFC3339Nano, dash(v))
		if err != nil && !op.customTime {
			return false
		}
		e.StartTime = t
	}
	return true
}

// parseDecimal is strconv.ParseInt(string(v), 10, 64) without the string.
func parseDecimal(v []byte) (int64, bool) {
	neg := len(v) > 0 && (v[0] == '-' || v[0] == '+')
	digits := v
	if neg {
		digits = v[1:]
	}
	if len(digits) == 0 || len(digits) > 18 {
		n, err := strconv.ParseInt(string(v), 10, 64)
		return n, err == nil
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if v[0] == '-' {
		n = -n
	}
	return n, true
}

// formatNames lists the names of the formats that read lines, sorted.
func formatNames(used map[*LogFormat]int) []string {
	var out []string
	for f := range used {
		out = append(out, f.Name)
	}
	sort.Strings(out)
	return out
}
