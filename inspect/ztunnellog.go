package inspect

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"time"
)

// ZtunnelLogEntry is one connection ztunnel logged (target "access", src/proxy/metrics.rs): the
// "connection complete" line written when a connection ends, or the "connection failed" line of
// a connection refused before it was set up.
type ZtunnelLogEntry struct {
	Time    time.Time
	Level   string // info, warn, error
	Message string // "connection complete" or "connection failed"
	// Direction is outbound (the client's ztunnel) or inbound (the server's).
	Direction                          string
	SrcAddr, SrcWorkload, SrcNamespace string
	DstAddr, DstHBONEAddr, DstService  string
	DstWorkload, DstNamespace          string
	BytesSent, BytesRecv               int64
	Duration                           time.Duration
	Error                              string
}

// ParseZtunnelLogLine reads one line of a ztunnel log, as ztunnel's Istio text format writes it
// (src/telemetry.rs): time, level, target, message, then key=value fields; strings quoted,
// addresses and numbers bare, absent values left out. The separators are tabs, or spaces where
// the line was copied from a terminal; a container-runtime prefix ("TIME stdout F ") is
// skipped. ok is false for lines that are not a connection's access log.
func ParseZtunnelLogLine(line string) (ZtunnelLogEntry, bool) {
	line = strings.TrimSpace(stripRuntimePrefix(line))
	var e ZtunnelLogEntry
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[2] != "access" {
		return e, false
	}
	msgAt := strings.Index(line, "connection complete")
	e.Message = "connection complete"
	if msgAt < 0 {
		if msgAt = strings.Index(line, "connection failed"); msgAt < 0 {
			return e, false
		}
		e.Message = "connection failed"
	}
	t, err := time.Parse(time.RFC3339Nano, fields[0])
	if err != nil {
		return e, false
	}
	e.Time, e.Level = t, fields[1]
	for k, v := range keyValues(line[msgAt+len(e.Message):]) {
		switch k {
		case "src.addr":
			e.SrcAddr = v
		case "src.workload":
			e.SrcWorkload = v
		case "src.namespace":
			e.SrcNamespace = v
		case "dst.addr":
			e.DstAddr = v
		case "dst.hbone_addr":
			e.DstHBONEAddr = v
		case "dst.service":
			e.DstService = v
		case "dst.workload":
			e.DstWorkload = v
		case "dst.namespace":
			e.DstNamespace = v
		case "direction":
			e.Direction = v
		case "bytes_sent":
			e.BytesSent, _ = strconv.ParseInt(v, 10, 64)
		case "bytes_recv":
			e.BytesRecv, _ = strconv.ParseInt(v, 10, 64)
		case "duration":
			e.Duration, _ = time.ParseDuration(v)
		case "error":
			e.Error = v
		}
	}
	return e, e.SrcAddr != "" && e.DstAddr != ""
}

// stripRuntimePrefix removes the CRI log prefix kubelet's files carry ("TIME stdout F ").
func stripRuntimePrefix(line string) string {
	f := strings.SplitN(line, " ", 4)
	if len(f) == 4 && (f[1] == "stdout" || f[1] == "stderr") && (f[2] == "F" || f[2] == "P") {
		if _, err := time.Parse(time.RFC3339Nano, f[0]); err == nil {
			return f[3]
		}
	}
	return line
}

// keyValues reads `k=v k="quoted \"v\""` pairs; a quoted value is unquoted as Rust's Debug
// writes strings.
func keyValues(s string) map[string]string {
	out := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t")
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return out
		}
		key := s[:eq]
		if strings.ContainsAny(key, " \t") {
			// Not a field: skip a word.
			if sp := strings.IndexAny(s, " \t"); sp > 0 {
				s = s[sp:]
				continue
			}
			return out
		}
		s = s[eq+1:]
		if strings.HasPrefix(s, `"`) {
			end := 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(s) {
				out[key] = s[1:]
				return out
			}
			v, err := strconv.Unquote(s[:end+1])
			if err != nil {
				v = s[1:end]
			}
			out[key] = v
			s = s[end+1:]
			continue
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			out[key] = s
			return out
		}
		out[key] = s[:end]
		s = s[end:]
	}
}

// ScanZtunnelLog reads a ztunnel log line by line and hands each connection entry to fn. It
// returns how many lines were read and how many were entries.
func ScanZtunnelLog(r io.Reader, fn func(ZtunnelLogEntry)) (lines, entries int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLineBytes)
	for sc.Scan() {
		lines++
		if e, ok := ParseZtunnelLogLine(sc.Text()); ok {
			entries++
			fn(e)
		}
	}
	return lines, entries, sc.Err()
}
