package inspect

import (
	"bytes"
	"testing"
)

// FuzzLogFormat feeds a user's --log-format (an Envoy text format or a JSON object of keys to
// operators) and a log read by it: format-aware parsing must not crash on either.
func FuzzLogFormat(f *testing.F) {
	text := `[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %DOWNSTREAM_LOCAL_ADDRESS% %REQUESTED_SERVER_NAME%` + "\n"
	f.Add(text, []byte(`[2026-11-22T09:59:01.123Z] "GET /get HTTP/1.1" 200 - 0 250 "httpbin.org" "203.0.113.10:80" PassthroughCluster 203.0.113.10:80 -`+"\n"))
	f.Add(`{"start":"%START_TIME%","host":"%REQ(:AUTHORITY)%","cluster":"%UPSTREAM_CLUSTER%","code":"%RESPONSE_CODE%"}`,
		[]byte(`{"start":"2026-11-22T09:59:01Z","host":"httpbin.org","cluster":"PassthroughCluster","code":200}`+"\n"))
	f.Add("%", []byte("%\n"))
	f.Add("%REQ(", []byte("x\n"))
	f.Add("%START_TIME(%s.%3f)% %UPSTREAM_CLUSTER%", []byte("1 x\n"))
	f.Fuzz(func(t *testing.T, format string, log []byte) {
		lf, err := ParseLogFormat("--log-format", format)
		if err != nil {
			return
		}
		counts, err := ScanAccessLog(bytes.NewReader(log), []*LogFormat{lf}, func(*AccessLogEntry) {})
		// An entry wrapped over several lines is one entry: never more entries and skips than lines.
		if err == nil && counts.Entries+counts.Skipped > counts.Lines {
			t.Fatalf("entries %d + skipped %d > lines %d", counts.Entries, counts.Skipped, counts.Lines)
		}
		inspectAll(t, Sources{Pod: Pod{Name: "fuzz"}, AccessLog: bytes.NewReader(log), LogFormat: format})
	})
}
