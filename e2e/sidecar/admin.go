package sidecar

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	"google.golang.org/protobuf/types/known/durationpb"
)

func (s *Sidecar) view() (*proxyView, error) {
	snap, err := s.state.snapshot()
	if err != nil {
		return nil, err
	}
	return &proxyView{snap: snap, boot: s.boot(), bootTime: s.started, now: s.clock(), traffic: s.traffic}, nil
}

func (s *Sidecar) boot() *bootstrapv3.Bootstrap {
	s.bootOnce.Do(func() { s.bootCfg = bootstrap(s.node, s.cfg.XDSAddr) })
	return s.bootCfg
}

func (s *Sidecar) live() bool {
	if s.xds == nil {
		return true
	}
	select {
	case <-s.xds.synced:
		return true
	default:
		return false
	}
}

// adminHandler serves the subset of Envoy's admin API that istioctl, Kiali and the plugin use.
func (s *Sidecar) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/config_dump", s.handleConfigDump)
	mux.HandleFunc("/clusters", s.handleClusters)
	mux.HandleFunc("/stats", s.handleStats)
	mux.HandleFunc("/stats/prometheus", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		q.Set("format", "prometheus")
		r.URL.RawQuery = q.Encode()
		s.handleStats(w, r)
	})
	mux.HandleFunc("/server_info", s.handleServerInfo)
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		if !s.live() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "PRE_INITIALIZING")
			return
		}
		fmt.Fprintln(w, "LIVE")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintln(w, "invalid path. admin commands are:")
		for _, p := range []string{"/clusters", "/config_dump", "/ready", "/server_info", "/stats", "/stats/prometheus"} {
			fmt.Fprintf(w, "  %s\n", p)
		}
	})
	return mux
}

func writeError(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	var he *httpError
	if errors.As(err, &he) {
		w.WriteHeader(he.code)
		fmt.Fprint(w, he.msg)
		return
	}
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprint(w, err.Error())
}

func writeJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (s *Sidecar) handleConfigDump(w http.ResponseWriter, r *http.Request) {
	params := r.URL.Query()
	q := dumpQuery{resource: params.Get("resource")}
	if _, ok := params["include_eds"]; ok {
		q.includeEDS = true
	}
	if m, ok := params["mask"]; ok {
		q.hasMask = true
		for _, p := range strings.Split(m[0], ",") {
			if p = strings.TrimSpace(p); p != "" {
				q.mask = append(q.mask, p)
			}
		}
	}
	if re := params.Get("name_regex"); re != "" {
		// Envoy matches the whole name (RE2 full match).
		c, err := regexp.Compile("^(?:" + re + ")$")
		if err != nil {
			writeError(w, &httpError{http.StatusBadRequest, fmt.Sprintf("Error while parsing name_regex from %s: %v", re, err)})
			return
		}
		q.nameRE = c
	}
	v, err := s.view()
	if err != nil {
		writeError(w, err)
		return
	}
	b, err := v.configDump(q)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, b)
}

func (s *Sidecar) handleClusters(w http.ResponseWriter, r *http.Request) {
	v, err := s.view()
	if err != nil {
		writeError(w, err)
		return
	}
	if r.URL.Query().Get("format") == "json" {
		b, err := v.clustersJSON()
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, b)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	_, _ = w.Write(v.clustersText())
}

func (s *Sidecar) handleStats(w http.ResponseWriter, r *http.Request) {
	params := r.URL.Query()
	var q statsQuery
	if _, ok := params["usedonly"]; ok {
		q.usedOnly = true
	}
	if f := params.Get("filter"); f != "" {
		re, err := regexp.Compile(f)
		if err != nil {
			writeError(w, &httpError{http.StatusBadRequest, "Invalid re2 regex"})
			return
		}
		q.filter = re
	}
	if snap, err := s.state.snapshot(); err == nil {
		s.traffic.mu.Lock()
		s.traffic.refreshStats(snap, s.stats, s.clock())
		s.traffic.mu.Unlock()
	}
	s.setUptime()
	stats := s.stats.selected(q)
	switch params.Get("format") {
	case "json":
		writeJSON(w, renderStatsJSON(stats))
	case "prometheus":
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		_, _ = w.Write(renderPrometheus(stats))
	case "", "text":
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		_, _ = w.Write(renderStatsText(stats))
	default:
		writeError(w, &httpError{http.StatusBadRequest, fmt.Sprintf("usage: /stats?format=(html|active-html|json|prometheus|text)\n\ninvalid format: %s", params.Get("format"))})
	}
}

func (s *Sidecar) setUptime() {
	raw, prom := envoyStat("server.uptime")
	s.stats.setGauge(raw, prom, nil, uint64(s.clock().Sub(s.started)/time.Second))
}

func (s *Sidecar) handleServerInfo(w http.ResponseWriter, r *http.Request) {
	up := durationpb.New(s.clock().Sub(s.started).Truncate(time.Second))
	state := adminv3.ServerInfo_LIVE
	if !s.live() {
		state = adminv3.ServerInfo_PRE_INITIALIZING
	}
	info := &adminv3.ServerInfo{
		Version:            s.node.envoyVersionString(),
		State:              state,
		HotRestartVersion:  "disabled",
		UptimeCurrentEpoch: up,
		UptimeAllEpochs:    up,
		CommandLineOptions: &adminv3.CommandLineOptions{
			ConfigPath:               "/etc/istio/proxy/envoy-rev.json",
			LogLevel:                 "warning",
			ComponentLogLevel:        "misc:error",
			LogFormat:                "%Y-%m-%dT%T.%fZ\t%l\tenvoy %n %g:%#\t%v\tthread=%t",
			ServiceCluster:           s.node.serviceCluster(),
			ServiceNode:              s.node.id(),
			Concurrency:              2,
			DrainTime:                durationpb.New(45 * time.Second),
			DrainStrategy:            adminv3.CommandLineOptions_Immediate,
			ParentShutdownTime:       durationpb.New(60 * time.Second),
			Mode:                     adminv3.CommandLineOptions_Serve,
			FileFlushInterval:        durationpb.New(10 * time.Second),
			AllowUnknownStaticFields: true,
		},
		Node: s.boot().GetNode(),
	}
	b, err := marshalEnvoyJSON(info)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, b)
}
