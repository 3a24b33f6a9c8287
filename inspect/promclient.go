package inspect

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// PrometheusAPI is the part of Prometheus's HTTP API the reader uses: an instant query that
// answers a vector, and the warnings Prometheus gave with it.
type PrometheusAPI interface {
	Query(ctx context.Context, query string, ts time.Time) (model.Vector, []string, error)
}

// maxPrometheusBody caps one query's answer: the reader's queries group by a few labels, so
// even a mesh of thousands of workloads answers a few MiB.
const maxPrometheusBody = 256 << 20

// PrometheusClient asks Prometheus's HTTP API (GET /api/v1/query) at Address, a base URL such
// as http://prometheus:9090 or an API server's service proxy path. GET, not POST: through the
// service proxy a POST needs the verb create on services/proxy, and the queries are short.
type PrometheusClient struct {
	Address string
	Client  *http.Client
}

// promResponse is the envelope of every answer of the HTTP API.
type promResponse struct {
	Status    string   `json:"status"`
	ErrorType string   `json:"errorType"`
	Error     string   `json:"error"`
	Warnings  []string `json:"warnings"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// Query runs an instant query at ts.
func (c *PrometheusClient) Query(ctx context.Context, query string, ts time.Time) (model.Vector, []string, error) {
	u, err := url.Parse(strings.TrimSuffix(c.Address, "/") + "/api/v1/query")
	if err != nil {
		return nil, nil, fmt.Errorf("bad Prometheus address %q: %w", c.Address, err)
	}
	v := url.Values{"query": {query}}
	if !ts.IsZero() {
		v.Set("time", strconv.FormatFloat(float64(ts.UnixMilli())/1000, 'f', 3, 64))
	}
	u.RawQuery = v.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	client := c.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPrometheusBody+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the answer: %w", err)
	}
	if len(body) > maxPrometheusBody {
		return nil, nil, fmt.Errorf("the answer is over %d MiB", maxPrometheusBody>>20)
	}
	return decodePromVector(resp.StatusCode, resp.Header.Get("Content-Type"), body)
}

// decodePromVector reads an answer of the HTTP API: Prometheus's own error when it gave one
// (HTTP 400, 422 or 503 with status "error"), else the vector.
func decodePromVector(code int, contentType string, body []byte) (model.Vector, []string, error) {
	var r promResponse
	if err := json.Unmarshal(body, &r); err != nil {
		if code/100 != 2 {
			return nil, nil, fmt.Errorf("HTTP %d: %s", code, firstLine(body))
		}
		return nil, nil, fmt.Errorf("the answer is not Prometheus's JSON (Content-Type %q): %s", contentType, firstLine(body))
	}
	if r.Status != "success" {
		if r.Error == "" {
			return nil, nil, fmt.Errorf("HTTP %d: %s", code, firstLine(body))
		}
		return nil, r.Warnings, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	if r.Data.ResultType != model.ValVector.String() {
		return nil, r.Warnings, fmt.Errorf("prometheus answered a %s, not a vector", r.Data.ResultType)
	}
	var vec model.Vector
	if err := json.Unmarshal(r.Data.Result, &vec); err != nil {
		return nil, r.Warnings, fmt.Errorf("a vector Prometheus answered cannot be read: %w", err)
	}
	return vec, r.Warnings, nil
}
