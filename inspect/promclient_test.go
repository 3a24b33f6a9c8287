package inspect

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// The answers are those of Prometheus's HTTP API documentation (querying/api.md: the envelope,
// an instant vector, an error), and a proxy's HTML page in front of it.
func TestPrometheusClient(t *testing.T) {
	var gotQuery, gotTime, gotMethod, gotPath string
	answer, code := "", 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotMethod, gotPath = r.Method, r.URL.Path
		gotQuery, gotTime = r.URL.Query().Get("query"), r.URL.Query().Get("time")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		w.Write([]byte(answer))
	}))
	defer srv.Close()
	c := &PrometheusClient{Address: srv.URL + "/prom/", Client: srv.Client()}
	ts := time.Date(2015, 7, 1, 20, 10, 51, 781e6, time.UTC)

	answer = `{"status":"success","warnings":["some series were dropped"],"data":{"resultType":"vector","result":[
	  {"metric":{"__name__":"up","job":"prometheus","instance":"localhost:9090"},"value":[1435781451.781,"1"]},
	  {"metric":{"__name__":"up","job":"node","instance":"localhost:9100"},"value":[1435781451.781,"0"]}]}}`
	vec, warn, err := c.Query(context.Background(), `up{job=~"prometheus|node"}`, ts)
	if err != nil {
		t.Fatal(err)
	}
	if gotMethod != http.MethodGet || gotPath != "/prom/api/v1/query" || gotQuery != `up{job=~"prometheus|node"}` || gotTime != "1435781451.781" {
		t.Errorf("request: %s %s query=%q time=%q", gotMethod, gotPath, gotQuery, gotTime)
	}
	if len(vec) != 2 || vec[0].Metric["instance"] != "localhost:9090" || vec[0].Value != 1 || vec[1].Value != 0 ||
		vec[0].Timestamp != model.TimeFromUnixNano(ts.UnixNano()) {
		t.Errorf("vector: %v", vec)
	}
	if len(warn) != 1 || warn[0] != "some series were dropped" {
		t.Errorf("warnings: %v", warn)
	}

	for _, c2 := range []struct {
		name, answer string
		code         int
		want         string
	}{
		{"error", `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:4: parse error: unexpected \"}\""}`, 400,
			`bad_data: invalid parameter "query": 1:4: parse error: unexpected "}"`},
		{"matrix", `{"status":"success","data":{"resultType":"matrix","result":[]}}`, 200, "prometheus answered a matrix, not a vector"},
		{"proxy page", "<html><body>502 Bad Gateway</body></html>", 502, "HTTP 502: <html><body>502 Bad Gateway</body></html>"},
		{"not JSON", "up 1\n", 200, `the answer is not Prometheus's JSON (Content-Type "application/json"): up 1`},
	} {
		answer, code = c2.answer, c2.code
		_, _, err := c.Query(context.Background(), "up", ts)
		if err == nil || err.Error() != c2.want {
			t.Errorf("%s: got %v, want %s", c2.name, err, c2.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: more than one line: %q", c2.name, err)
		}
	}
}
