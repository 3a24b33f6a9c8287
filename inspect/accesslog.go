package inspect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// maxLineBytes bounds one log line; longer lines (huge headers in a JSON log) are an error.
const maxLineBytes = 1 << 20

// AccessLogEntry is one Envoy access-log line in Istio's format. Fields Envoy printed as "-"
// (or null in JSON) are empty.
type AccessLogEntry struct {
	StartTime                      time.Time
	Method                         string
	Path                           string
	Protocol                       string
	ResponseCode                   int
	ResponseFlags                  string
	ResponseCodeDetails            string
	ConnectionTerminationDetails   string
	UpstreamTransportFailureReason string
	BytesReceived                  int64
	BytesSent                      int64
	Duration                       int64
	UserAgent                      string
	Authority                      string
	UpstreamHost                   string
	// UpstreamCluster is the cluster name without the alt-stat-name ";…" suffix older
	// %UPSTREAM_CLUSTER% printed.
	UpstreamCluster         string
	UpstreamLocalAddress    string
	DownstreamLocalAddress  string
	DownstreamRemoteAddress string
	RequestedServerName     string
	RouteName               string
}

// AccessLogCounts says how much of a container log was access log.
type AccessLogCounts struct {
	// Lines is every non-empty line read.
	Lines int `json:"lines"`
	// Entries is the lines that parsed as access-log entries.
	Entries int `json:"entries"`
	// Skipped is the other lines (Envoy and pilot-agent logs share the container log).
	Skipped int `json:"skipped"`
}

// ScanAccessLog streams r line by line, calling fn for every access-log entry (the entry is
// reused: copy it to keep it). Lines that are not access logs are counted and skipped.
func ScanAccessLog(r io.Reader, fn func(*AccessLogEntry)) (AccessLogCounts, error) {
	var counts AccessLogCounts
	if r == nil {
		return counts, nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLineBytes)
	var e AccessLogEntry
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		counts.Lines++
		if parseAccessLogLine(line, &e) {
			counts.Entries++
			fn(&e)
		} else {
			counts.Skipped++
		}
	}
	if err := sc.Err(); err != nil {
		return counts, fmt.Errorf("failed to read access log after %d lines: %w", counts.Lines, err)
	}
	return counts, nil
}

// ParseAccessLogLine parses one line in Istio's TEXT format (1.9+ or older) or JSON encoding.
// ok is false for lines that are not access-log entries.
func ParseAccessLogLine(line []byte) (AccessLogEntry, bool) {
	var e AccessLogEntry
	ok := parseAccessLogLine(bytes.TrimSpace(line), &e)
	return e, ok
}

func parseAccessLogLine(line []byte, e *AccessLogEntry) bool {
	*e = AccessLogEntry{}
	line = stripLogTimestamp(line)
	if len(line) == 0 {
		return false
	}
	switch line[0] {
	case '[':
		return parseTextEntry(line, e)
	case '{':
		return parseJSONEntry(line, e)
	}
	return false
}

// stripLogTimestamp drops the RFC 3339 prefix `kubectl logs --timestamps` adds.
func stripLogTimestamp(line []byte) []byte {
	if len(line) < 21 || line[0] < '0' || line[0] > '9' || line[10] != 'T' {
		return line
	}
	i := bytes.IndexByte(line, ' ')
	if i < 0 || i+1 >= len(line) || (line[i+1] != '[' && line[i+1] != '{') {
		return line
	}
	if _, err := time.Parse(time.RFC3339Nano, string(line[:i])); err != nil {
		return line
	}
	return line[i+1:]
}

type logToken struct {
	text   []byte
	quoted bool
}

// tokenizeLogLine splits a text access-log line into space-separated fields, keeping
// "quoted" and [bracketed] fields whole. Envoy does not escape quotes inside them.
func tokenizeLogLine(line []byte, toks []logToken) []logToken {
	toks = toks[:0]
	for i := 0; i < len(line); {
		switch line[i] {
		case ' ', '\t':
			i++
		case '"', '[':
			closer := byte('"')
			if line[i] == '[' {
				closer = ']'
			}
			j := bytes.IndexByte(line[i+1:], closer)
			if j < 0 {
				return toks[:0]
			}
			toks = append(toks, logToken{text: line[i+1 : i+1+j], quoted: closer == '"'})
			i += j + 2
		default:
			j := bytes.IndexAny(line[i:], " \t")
			if j < 0 {
				j = len(line) - i
			}
			toks = append(toks, logToken{text: line[i : i+j]})
			i += j
		}
	}
	return toks
}

// parseTextEntry anchors on the run of five quoted fields (x-forwarded-for, user-agent,
// request-id, authority, upstream host) that every Istio text format since 1.0 carries, so the
// 1.9+ format (details, termination details, transport failure) and older ones both parse.
func parseTextEntry(line []byte, e *AccessLogEntry) bool {
	var buf [32]logToken
	t := tokenizeLogLine(line, buf[:0])
	if len(t) < 16 || !t[1].quoted {
		return false
	}
	start, err := time.Parse(time.RFC3339Nano, string(t[0].text))
	if err != nil {
		return false
	}
	q := -1
	for i := 8; i+5 <= len(t); i++ { // bytes received (q-4) comes after the flags (3)
		if t[i].quoted && t[i+1].quoted && t[i+2].quoted && t[i+3].quoted && t[i+4].quoted {
			q = i
			break
		}
	}
	if q < 0 || len(t) < q+10 {
		return false
	}
	code, err := strconv.Atoi(string(t[2].text))
	if err != nil {
		return false
	}
	e.StartTime = start
	e.Method, e.Path, e.Protocol = splitRequestLine(t[1].text)
	e.ResponseCode = code
	e.ResponseFlags = dash(t[3].text)
	for _, x := range t[4 : q-4] {
		switch {
		case x.quoted:
			e.UpstreamTransportFailureReason = dash(x.text)
		case e.ResponseCodeDetails == "":
			e.ResponseCodeDetails = dash(x.text)
		default:
			e.ConnectionTerminationDetails = dash(x.text)
		}
	}
	e.BytesReceived = atoi64(t[q-4].text)
	e.BytesSent = atoi64(t[q-3].text)
	e.Duration = atoi64(t[q-2].text)
	e.UserAgent = dash(t[q+1].text)
	e.Authority = dash(t[q+3].text)
	e.UpstreamHost = dash(t[q+4].text)
	e.UpstreamCluster = clusterName(dash(t[q+5].text))
	e.UpstreamLocalAddress = dash(t[q+6].text)
	e.DownstreamLocalAddress = dash(t[q+7].text)
	e.DownstreamRemoteAddress = dash(t[q+8].text)
	e.RequestedServerName = dash(t[q+9].text)
	if len(t) > q+10 {
		e.RouteName = dash(t[q+10].text)
	}
	return true
}

func splitRequestLine(b []byte) (method, path, proto string) {
	f := strings.Fields(string(b))
	get := func(i int) string {
		if i < len(f) && f[i] != "-" {
			return f[i]
		}
		return ""
	}
	return get(0), get(1), get(2)
}

// logValue takes a JSON access-log value that may be a string, a number or null.
type logValue string

func (v *logValue) UnmarshalJSON(b []byte) error {
	switch {
	case bytes.Equal(b, []byte("null")):
		*v = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = logValue(s)
	default:
		*v = logValue(b)
	}
	return nil
}

type jsonEntry struct {
	StartTime                      *logValue `json:"start_time"`
	RouteName                      logValue  `json:"route_name"`
	Method                         logValue  `json:"method"`
	Path                           logValue  `json:"path"`
	Protocol                       logValue  `json:"protocol"`
	ResponseCode                   logValue  `json:"response_code"`
	ResponseFlags                  logValue  `json:"response_flags"`
	ResponseCodeDetails            logValue  `json:"response_code_details"`
	ConnectionTerminationDetails   logValue  `json:"connection_termination_details"`
	BytesReceived                  logValue  `json:"bytes_received"`
	BytesSent                      logValue  `json:"bytes_sent"`
	Duration                       logValue  `json:"duration"`
	UserAgent                      logValue  `json:"user_agent"`
	Authority                      logValue  `json:"authority"`
	UpstreamHost                   logValue  `json:"upstream_host"`
	UpstreamCluster                *logValue `json:"upstream_cluster"`
	UpstreamLocalAddress           logValue  `json:"upstream_local_address"`
	DownstreamLocalAddress         logValue  `json:"downstream_local_address"`
	DownstreamRemoteAddress        logValue  `json:"downstream_remote_address"`
	RequestedServerName            logValue  `json:"requested_server_name"`
	UpstreamTransportFailureReason logValue  `json:"upstream_transport_failure_reason"`
}

func parseJSONEntry(line []byte, e *AccessLogEntry) bool {
	var j jsonEntry
	if err := json.Unmarshal(line, &j); err != nil || j.StartTime == nil || j.UpstreamCluster == nil {
		return false
	}
	start, err := time.Parse(time.RFC3339Nano, string(*j.StartTime))
	if err != nil {
		return false
	}
	s := func(v logValue) string { return dash([]byte(v)) }
	e.StartTime = start
	e.Method, e.Path, e.Protocol = s(j.Method), s(j.Path), s(j.Protocol)
	e.ResponseCode, _ = strconv.Atoi(string(j.ResponseCode))
	e.ResponseFlags = s(j.ResponseFlags)
	e.ResponseCodeDetails = s(j.ResponseCodeDetails)
	e.ConnectionTerminationDetails = s(j.ConnectionTerminationDetails)
	e.UpstreamTransportFailureReason = s(j.UpstreamTransportFailureReason)
	e.BytesReceived = atoi64([]byte(j.BytesReceived))
	e.BytesSent = atoi64([]byte(j.BytesSent))
	e.Duration = atoi64([]byte(j.Duration))
	e.UserAgent = s(j.UserAgent)
	e.Authority = s(j.Authority)
	e.UpstreamHost = s(j.UpstreamHost)
	e.UpstreamCluster = clusterName(s(*j.UpstreamCluster))
	e.UpstreamLocalAddress = s(j.UpstreamLocalAddress)
	e.DownstreamLocalAddress = s(j.DownstreamLocalAddress)
	e.DownstreamRemoteAddress = s(j.DownstreamRemoteAddress)
	e.RequestedServerName = s(j.RequestedServerName)
	e.RouteName = s(j.RouteName)
	return true
}

// clusterName drops the ";…" suffix that %UPSTREAM_CLUSTER% prints when Istio sets an alt stat name.
func clusterName(s string) string {
	if i := strings.IndexByte(s, ';'); i >= 0 {
		return s[:i]
	}
	return s
}

func dash(b []byte) string {
	if len(b) == 0 || len(b) == 1 && b[0] == '-' {
		return ""
	}
	return string(b)
}

func atoi64(b []byte) int64 {
	n, _ := strconv.ParseInt(string(b), 10, 64)
	return n
}
