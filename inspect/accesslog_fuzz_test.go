package inspect

import (
	"bytes"
	"testing"
)

const accessLogSeedText = `[2026-11-22T09:59:01.123Z] "GET /get HTTP/1.1" 200 - via_upstream - "-" 0 250 12 11 "-" "curl/8.5.0" "id" "httpbin.org" "203.0.113.10:80" PassthroughCluster 10.0.0.5:40000 203.0.113.10:80 10.0.0.5:39999 - allow_any
[2026-11-22T09:59:02.000Z] "- - -" 0 UH - - "-" 0 0 0 - "-" "-" "-" "-" "-" BlackHoleCluster - 203.0.113.30:443 10.0.0.5:40001 google.com -
`

// FuzzAccessLog feeds an istio-proxy container log: TEXT lines of every Istio era, JSON
// lines, kubectl's --timestamps prefix, and the Envoy and pilot-agent lines between them.
func FuzzAccessLog(f *testing.F) {
	addSampleSeeds(f, "accesslog-text-istioio-access-log-task.txt", "accesslog-text-istioio-egress-control-task.txt")
	addSeeds(f, accessLogSeedText,
		`{"start_time":"2026-11-22T09:59:01.123Z","method":"GET","path":"/get","protocol":"HTTP/1.1","response_code":200,"response_flags":"-","bytes_received":0,"bytes_sent":250,"duration":12,"authority":"httpbin.org","upstream_host":"203.0.113.10:80","upstream_cluster":"PassthroughCluster","downstream_local_address":"203.0.113.10:80","requested_server_name":null,"route_name":"allow_any"}`+"\n",
		`{"start_time":"x","upstream_cluster":7,"response_code":"200","bytes_sent":-1}`+"\n",
		"2026-11-22T09:59:01.123456789Z "+accessLogSeedText,
		"2026-11-22T09:59:01.123Z\tinfo\tads\tADS: new connection\n",
		`[2026-11-22T09:59:01.123Z] "GET`+"\n",
		`[`+"\n"+`{`+"\n",
	)
	f.Fuzz(func(t *testing.T, b []byte) {
		counts, err := ScanAccessLog(bytes.NewReader(b), nil, func(e *AccessLogEntry) {})
		// An entry wrapped over several lines is one entry: never more entries and skips than lines.
		if err == nil && counts.Entries+counts.Skipped > counts.Lines {
			t.Fatalf("entries %d + skipped %d > lines %d", counts.Entries, counts.Skipped, counts.Lines)
		}
		for line := range bytes.SplitSeq(b, []byte("\n")) {
			_, _ = ParseAccessLogLine(line)
		}
		inspectAll(t, Sources{Pod: Pod{Name: "fuzz"}, AccessLog: bytes.NewReader(b)})
	})
}
