package sidecar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	filev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// envoyDefaultFormat is Envoy's own default, used by a file logger with no log_format.
const envoyDefaultFormat = `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"` + "\n"

// logRecord is what Envoy's access log formatters see for one TCP connection or HTTP request.
type logRecord struct {
	start                   time.Time
	http                    bool
	method, path, protocol  string
	responseCode            int
	flags, details          string
	bytesReceived, bytesSnt int
	durationMS              int
	upstreamServiceTimeMS   int // <0: no header
	userAgent, requestID    string
	authority               string
	upstreamHost            string
	cluster, clusterStat    string // raw name and observability (alt_stat) name
	upstreamLocal           string
	downstreamLocal         string
	downstreamRemote        string
	sni                     string
	route                   string
}

// value renders one command operator: the value, whether it is present, and whether it is
// numeric (typed in JSON logs).
func (r *logRecord) value(op string) (string, bool, bool) {
	str := func(s string) (string, bool, bool) { return s, s != "", false }
	num := func(n int) (string, bool, bool) { return strconv.Itoa(n), true, true }
	httpOnly := func(s string) (string, bool, bool) {
		if !r.http {
			return "", false, false
		}
		return str(s)
	}
	switch op {
	case "START_TIME":
		return r.start.UTC().Format("2006-01-02T15:04:05.000Z"), true, false
	case "REQ(:METHOD)":
		return httpOnly(r.method)
	case "REQ(X-ENVOY-ORIGINAL-PATH?:PATH)", "REQ(:PATH)":
		return httpOnly(r.path)
	case "PROTOCOL":
		return httpOnly(r.protocol)
	case "RESPONSE_CODE":
		return num(r.responseCode)
	case "RESPONSE_FLAGS":
		return r.flags, true, false
	case "RESPONSE_CODE_DETAILS":
		if r.details == "-" {
			return "", false, false
		}
		return str(r.details)
	case "BYTES_RECEIVED":
		return num(r.bytesReceived)
	case "BYTES_SENT":
		return num(r.bytesSnt)
	case "DURATION":
		return num(r.durationMS)
	case "RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)":
		if !r.http || r.upstreamServiceTimeMS < 0 {
			return "", false, false
		}
		return strconv.Itoa(r.upstreamServiceTimeMS), true, false
	case "REQ(USER-AGENT)":
		return httpOnly(r.userAgent)
	case "REQ(X-REQUEST-ID)":
		return httpOnly(r.requestID)
	case "REQ(:AUTHORITY)":
		return httpOnly(r.authority)
	case "UPSTREAM_HOST":
		return str(r.upstreamHost)
	case "UPSTREAM_CLUSTER_RAW":
		return str(r.cluster)
	case "UPSTREAM_CLUSTER":
		return str(r.clusterStat)
	case "UPSTREAM_LOCAL_ADDRESS":
		return str(r.upstreamLocal)
	case "DOWNSTREAM_LOCAL_ADDRESS":
		return str(r.downstreamLocal)
	case "DOWNSTREAM_REMOTE_ADDRESS":
		return str(r.downstreamRemote)
	case "REQUESTED_SERVER_NAME":
		return str(r.sni)
	case "ROUTE_NAME":
		return str(r.route)
	}
	// Everything else this simulation does not produce (X-FORWARDED-FOR,
	// CONNECTION_TERMINATION_DETAILS, UPSTREAM_TRANSPORT_FAILURE_REASON, ...).
	return "", false, false
}

var operatorRE = regexp.MustCompile(`%([A-Z_]+(?:\([^)]*\))?(?::[0-9]+)?)%`)

// formatText renders an Envoy text format string.
func formatText(format string, r *logRecord) string {
	return operatorRE.ReplaceAllStringFunc(format, func(m string) string {
		op := strings.Trim(m, "%")
		if i := strings.LastIndex(op, ")"); i >= 0 && i+1 < len(op) && op[i+1] == ':' {
			op = op[:i+1] // drop a max-length suffix
		}
		v, ok, _ := r.value(op)
		if !ok {
			return "-"
		}
		return v
	})
}

// formatJSON renders an Envoy json_format: a lone operator keeps its type, absent is null.
func formatJSON(format *structpb.Struct, r *logRecord) string {
	out := map[string]any{}
	for k, v := range format.GetFields() {
		s := v.GetStringValue()
		if m := operatorRE.FindStringSubmatch(s); m != nil && m[0] == s {
			val, ok, numeric := r.value(m[1])
			switch {
			case !ok:
				out[k] = nil
			case numeric:
				n, _ := strconv.Atoi(val)
				out[k] = n
			default:
				out[k] = val
			}
			continue
		}
		out[k] = formatText(s, r)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(out) // keys sorted, as Envoy prints them
	return buf.String()
}

// render produces the line one access logger writes for r, and the container stream it goes
// to; ok is false when the logger is not a file logger to stdout/stderr, or its filter (a
// Telemetry's filter expression, say) does not let r through.
func render(al *accesslogv3.AccessLog, r *logRecord) (line, stream string, ok bool) {
	if !logFilterMatches(al.GetFilter(), r) {
		return "", "", false
	}
	fl := &filev3.FileAccessLog{}
	if !al.GetTypedConfig().MessageIs(fl) || al.GetTypedConfig().UnmarshalTo(fl) != nil {
		return "", "", false
	}
	switch fl.GetPath() {
	case "/dev/stdout":
		stream = "stdout"
	case "/dev/stderr":
		stream = "stderr"
	default:
		return "", "", false
	}
	lf := fl.GetLogFormat()
	switch {
	case lf.GetJsonFormat() != nil:
		line = formatJSON(lf.GetJsonFormat(), r)
	case lf.GetTextFormatSource() != nil:
		line = formatText(lf.GetTextFormatSource().GetInlineString(), r)
	default:
		line = formatText(envoyDefaultFormat, r)
	}
	return line, stream, true
}

// accessLogWriter writes the istio-proxy container log in CRI format, as kubelet (here kwok)
// serves it to `kubectl logs`.
type accessLogWriter struct {
	path     string
	encoding string // what the mesh config says; the xDS access loggers decide (see Config)

	mu sync.Mutex
	f  *os.File
}

func (w *accessLogWriter) open() error {
	if w.path == "" {
		return nil
	}
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("failed to open proxy log: %w", err)
	}
	w.f = f
	return nil
}

func (w *accessLogWriter) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// write appends one container log line per line of text.
func (w *accessLogWriter) write(ts time.Time, stream, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return
	}
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		b.WriteString(ts.UTC().Format("2006-01-02T15:04:05.000000000Z"))
		b.WriteString(" ")
		b.WriteString(stream)
		b.WriteString(" F ")
		b.WriteString(l)
		b.WriteString("\n")
	}
	_, _ = w.f.WriteString(b.String())
}

// agentLine writes a pilot-agent style log line (the container log is not only access logs).
func (w *accessLogWriter) agentLine(ts time.Time, level, msg string) {
	w.write(ts, "stdout", ts.UTC().Format("2006-01-02T15:04:05.000000Z")+"\t"+level+"\t"+msg)
}
