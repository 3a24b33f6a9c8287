package inspect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
)

// Pod identifies the pod whose sidecar produced the sources, with what the report needs from its spec.
type Pod struct {
	Namespace string
	Name      string
	// Workload is the owning workload, e.g. "deploy/web", or "" when unknown.
	Workload    string
	Annotations map[string]string
	Labels      map[string]string
}

// Key is the pod's "namespace/name", the form the report uses to list pods.
func (p Pod) Key() string {
	if p.Namespace == "" {
		return p.Name
	}
	return p.Namespace + "/" + p.Name
}

// Sources are one sidecar's raw admin outputs; any may be empty (not fetched, or failed).
type Sources struct {
	Pod Pod
	// ConfigDump is a /config_dump: a full dump, or one filtered by resource= (masked or not),
	// as JSON (snake_case or lowerCamelCase) or YAML.
	ConfigDump []byte
	// MoreConfig are further config dumps of the same proxy, merged with ConfigDump: the
	// filtered reads of static clusters, listeners and routes, or more saved files.
	MoreConfig []Part
	// Clusters is /clusters?format=json (snake_case or old camelCase).
	Clusters []byte
	// Stats is /stats/prometheus text, or raw /stats text.
	Stats []byte
	// ServerInfo is /server_info JSON.
	ServerInfo []byte
	// AccessLog streams the istio-proxy container log; it is read line by line, never whole.
	AccessLog io.Reader
	// LogFormat is the access-log format the user gave (--log-format): an Envoy text format
	// string or a JSON object of keys to operators. Empty: the proxy's own, or Istio's defaults.
	LogFormat string
	// Origins name where each output came from (a file, an admin path), for messages.
	Origins Origins
	// ConfigScope is ConfigTraffic when only the configuration the proxy's traffic used was read
	// (planReads), and "" when it was read whole.
	ConfigScope ConfigScope
	// Errors are fetch errors for this pod, carried into the report.
	Errors []error
	// ztunnelBytes is what this pod's fetch read from its node's ztunnel (zero when another
	// pod's fetch read it for both).
	ztunnelBytes int64
	// Ztunnel is set for a pod in ambient mode: what the ztunnel of its node said. The Envoy
	// outputs above are then empty (the pod has no sidecar).
	Ztunnel *ZtunnelSources
}

// ZtunnelSources are the outputs of the ztunnel that carries an ambient pod's traffic.
type ZtunnelSources struct {
	// Pod is the ztunnel's pod.
	Pod Pod
	// PodIPs are the ambient pod's addresses: its connections are the ones ztunnel logged
	// with one of them as source.
	PodIPs []string
	// ConfigDump is ztunnel's admin /config_dump (port 15000).
	ConfigDump []byte
	// Stats is ztunnel's /stats/prometheus (port 15020).
	Stats []byte
	// Log is the ztunnel container's log: the lines of the pods of the run on its node, which
	// the node's one read kept (ztunnelShare).
	Log io.Reader
}

// adminBytes is the size of the admin outputs read.
func (s *Sources) adminBytes() int64 {
	n := len(s.ConfigDump) + len(s.Clusters) + len(s.Stats) + len(s.ServerInfo)
	for _, p := range s.MoreConfig {
		n += len(p.Data)
	}
	return int64(n)
}

// Part is one named config dump.
type Part struct {
	// Name says where it came from: a file name or an admin path.
	Name string
	Data []byte
}

// Origins name the file (or admin path) each single output of Sources came from; empty when
// the caller has no better name than the kind of output.
type Origins struct {
	ConfigDump, Clusters, Stats, ServerInfo, AccessLog string
}

// Kind is what a saved admin output is, recognised by content for --file.
type Kind int

// The kinds of saved outputs DetectKind recognises.
const (
	KindUnknown Kind = iota
	KindConfigDump
	KindClusters
	KindPrometheusStats
	KindRawStats
	KindAccessLog
	KindServerInfo
)

var kindNames = map[Kind]string{
	KindUnknown:         "unknown",
	KindConfigDump:      "config_dump",
	KindClusters:        "clusters",
	KindPrometheusStats: "stats/prometheus",
	KindRawStats:        "stats",
	KindAccessLog:       "access log",
	KindServerInfo:      "server_info",
}

func (k Kind) String() string { return kindNames[k] }

// DetectKind recognises a saved admin output by its content: a config dump (JSON or YAML),
// /clusters (JSON or plain), /stats/prometheus, raw /stats, an access log (text or JSON lines
// in Istio's default formats) or /server_info. Leading "# " comment lines (not "# HELP"/
// "# TYPE") are ignored.
func DetectKind(b []byte) Kind { return detectKind(b, DefaultLogFormats) }

// detectKind is DetectKind with the access-log formats to recognise.
func detectKind(b []byte, formats []*LogFormat) Kind {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return KindUnknown
	}
	if b[0] == '{' {
		if k := detectJSONKind(b); k != KindUnknown {
			return k
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), maxLineBytes)
	for i := 0; sc.Scan() && i < 50; i++ {
		line := bytes.TrimSpace(sc.Bytes())
		switch {
		case len(line) == 0:
			continue
		case bytes.HasPrefix(line, []byte("# HELP ")), bytes.HasPrefix(line, []byte("# TYPE ")):
			return KindPrometheusStats
		case line[0] == '#':
			continue
		case bytes.HasPrefix(line, []byte("configs:")):
			return KindConfigDump
		}
		var e AccessLogEntry
		if parseEntry(line, formats, &e, nil) != nil {
			return KindAccessLog
		}
		if line[0] == '{' {
			continue
		}
		if f := bytes.Split(line, []byte("::")); len(f) == 4 && isHostAddress(string(f[1])) {
			return KindClusters
		}
		if isPromSample(line) {
			return KindPrometheusStats
		}
		if isRawStat(line) {
			return KindRawStats
		}
	}
	// An entry a paste hard-wrapped over several lines.
	if c, _ := ScanAccessLog(bytes.NewReader(b), formats, func(*AccessLogEntry) {}); c.Entries > 0 {
		return KindAccessLog
	}
	return KindUnknown
}

// detectJSONKind reads only the top-level keys, so a truncated head of a large file still tells its kind.
func detectJSONKind(b []byte) Kind {
	top := map[string]bool{}
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return KindUnknown
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		key, _ := tok.(string)
		top[key] = true
		if key == "configs" {
			break
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			break
		}
	}
	has := func(keys ...string) bool {
		for _, k := range keys {
			if top[k] {
				return true
			}
		}
		return false
	}
	switch {
	case has("configs"):
		return KindConfigDump
	case has("cluster_statuses", "clusterStatuses"):
		return KindClusters
	case has("command_line_options", "commandLineOptions", "hot_restart_version", "hotRestartVersion"):
		return KindServerInfo
	case has("start_time") && has("upstream_cluster", "response_code", "bytes_sent", "authority"):
		return KindAccessLog
	}
	return KindUnknown
}

// isPromSample reports whether a line looks like `name{labels} value` or `name value`.
func isPromSample(line []byte) bool {
	i := bytes.IndexAny(line, "{ ")
	if i <= 0 {
		return false
	}
	for _, c := range line[:i] {
		if !(c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isRawStat reports whether a line looks like Envoy's `dotted.stat.name: value`.
func isRawStat(line []byte) bool {
	i := bytes.Index(line, []byte(": "))
	return i > 0 && bytes.IndexByte(line[:i], '.') > 0 && bytes.IndexByte(line[:i], ' ') < 0
}
