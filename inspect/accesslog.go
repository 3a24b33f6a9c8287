package inspect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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
	ResponseCode                   int64
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
	// Entries is the access-log entries read (an entry a paste wrapped spans several lines).
	Entries int `json:"entries"`
	// Skipped is the lines that were not access log (Envoy and pilot-agent logs share the
	// container log).
	Skipped int `json:"skipped"`
	// Formats name the formats the entries were read by.
	Formats []string `json:"formats,omitempty"`
}

// maxWrappedLines bounds how many physical lines one JSON entry may span: logs pasted into an
// issue or a terminal come hard-wrapped.
const maxWrappedLines = 8

// maxPrefixFields bounds the fields before an entry that a log reader adds: the CRI
// "TIMESTAMP STREAM F", kubectl logs --timestamps, --prefix "[pod/NAME/CONTAINER]", stern's
// "POD CONTAINER".
const maxPrefixFields = 4

// ScanAccessLog streams r line by line, calling fn for every access-log entry (the entry is
// reused: copy it to keep it). Each line is read by the first of formats that fits it, or by
// DefaultLogFormats when formats is empty. Lines that are not access logs are counted and
// skipped.
func ScanAccessLog(r io.Reader, formats []*LogFormat, fn func(*AccessLogEntry)) (AccessLogCounts, error) {
	var counts AccessLogCounts
	if r == nil {
		return counts, nil
	}
	if len(formats) == 0 {
		formats = DefaultLogFormats
	}
	used := map[*LogFormat]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLineBytes)
	var e AccessLogEntry
	strs := newStrTable()
	// pending is the start of a JSON entry wrapped over several lines; pendingLines counts them.
	var pending []byte
	pendingLines := 0
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		counts.Lines++
		if pendingLines > 0 {
			if !startsEntry(line) && pendingLines < maxWrappedLines {
				pending = append(pending, line...)
				pendingLines++
				if json.Valid(pending) {
					if f := parseEntry(pending, formats, &e, strs); f != nil {
						counts.Entries++
						used[f]++
						fn(&e)
					} else {
						counts.Skipped += pendingLines
					}
					pending, pendingLines = pending[:0], 0
				}
				continue
			}
			counts.Skipped += pendingLines
			pending, pendingLines = pending[:0], 0
		}
		if f := parseEntry(line, formats, &e, strs); f != nil {
			counts.Entries++
			used[f]++
			fn(&e)
			continue
		}
		if i := jsonStart(line); i >= 0 && !json.Valid(line[i:]) {
			pending, pendingLines = append(pending[:0], line[i:]...), 1
			continue
		}
		counts.Skipped++
	}
	counts.Skipped += pendingLines
	counts.Formats = formatNames(used)
	if err := sc.Err(); err != nil {
		return counts, fmt.Errorf("failed to read access log after %d lines: %w", counts.Lines, err)
	}
	return counts, nil
}

// startsEntry reports whether a line looks like the start of an entry rather than the rest of
// a wrapped one.
func startsEntry(line []byte) bool {
	return line[0] == '{' || line[0] == '['
}

// jsonStart is where a JSON object starts in a line, after at most maxPrefixFields prefix
// fields; -1 when it does not.
func jsonStart(line []byte) int {
	i := 0
	for n := 0; n <= maxPrefixFields && i < len(line); n++ {
		if line[i] == '{' {
			return i
		}
		j := bytes.IndexByte(line[i:], ' ')
		if j < 0 {
			return -1
		}
		i += j + 1
	}
	return -1
}

// parseEntry reads one line by the first format that fits it, trying the line as it is and then
// without up to maxPrefixFields leading fields a log reader added. It returns that format, or nil.
func parseEntry(line []byte, formats []*LogFormat, e *AccessLogEntry, strs *strTable) *LogFormat {
	for n := 0; n <= maxPrefixFields; n++ {
		if len(line) == 0 {
			return nil
		}
		if f := parseAt(line, formats, e, strs); f != nil {
			return f
		}
		j := bytes.IndexByte(line, ' ')
		if j < 0 {
			return nil
		}
		line = bytes.TrimLeft(line[j+1:], " \t")
	}
	return nil
}

func parseAt(line []byte, formats []*LogFormat, e *AccessLogEntry, strs *strTable) *LogFormat {
	if line[0] == '{' {
		var obj map[string]json.RawMessage
		if json.Unmarshal(line, &obj) != nil {
			return nil
		}
		for _, f := range formats {
			*e = AccessLogEntry{}
			if f.IsJSON() && f.matchJSON(obj, e, strs) {
				return f
			}
		}
		return nil
	}
	for _, f := range formats {
		*e = AccessLogEntry{}
		if !f.IsJSON() && f.matchText(line, e, strs) {
			return f
		}
	}
	return nil
}

// ParseAccessLogLine reads one line by Istio's default formats (TEXT of any era, or JSON).
// ok is false for lines that are not access-log entries.
func ParseAccessLogLine(line []byte) (AccessLogEntry, bool) {
	var e AccessLogEntry
	ok := parseEntry(bytes.TrimSpace(line), DefaultLogFormats, &e, nil) != nil
	return e, ok
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

// strTable hands out one string per distinct value of a log's fields: a log repeats its
// clusters, hosts, flags and methods on every line, and a string each would be most of a
// scan's allocations. It stops growing at maxStrs, for fields whose values never repeat.
type strTable struct{ m map[string]string }

const maxStrs = 4096

func newStrTable() *strTable { return &strTable{m: make(map[string]string, 256)} }

// str is dash(b), from the table when t is not nil.
func (t *strTable) str(b []byte) string {
	if t == nil || len(b) == 0 || len(b) == 1 && b[0] == '-' {
		return dash(b)
	}
	if s, ok := t.m[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(t.m) < maxStrs {
		t.m[s] = s
	}
	return s
}
