package inspect

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// An `istioctl bug-report` archive (istio tools/bug-report: archive.go, bugreport.go,
// common.go) holds, for each proxy, the directory bug-report/proxies/NAMESPACE/POD/ with one
// file per admin URL it fetched ("clusters" in plain text, "config_dump?include_eds",
// "server_info", "stats/prometheus", and others the report does not read) and the
// container's log "istio-proxy.log". Empty outputs are not written.
const (
	bugReportProxies = "proxies"
	bugReportLog     = "istio-proxy.log"
)

// bugReportFiles are the per-proxy files the report reads, and where each goes.
var bugReportFiles = map[string]func(*Sources, string, []byte){
	"config_dump?include_eds": func(s *Sources, n string, b []byte) { s.ConfigDump, s.Origins.ConfigDump = b, n },
	"config_dump":             func(s *Sources, n string, b []byte) { s.MoreConfig = append(s.MoreConfig, Part{Name: n, Data: b}) },
	"clusters":                func(s *Sources, n string, b []byte) { s.Clusters, s.Origins.Clusters = b, n },
	"clusters?format=json":    func(s *Sources, n string, b []byte) { s.Clusters, s.Origins.Clusters = b, n },
	"server_info":             func(s *Sources, n string, b []byte) { s.ServerInfo, s.Origins.ServerInfo = b, n },
	"stats/prometheus":        func(s *Sources, n string, b []byte) { s.Stats, s.Origins.Stats = b, n },
}

// bugReportPod splits a path inside a bug report into the proxy's pod and the file name, or
// returns ok false when the path is not under proxies/NAMESPACE/POD/.
func bugReportPod(p string) (pod Pod, file string, ok bool) {
	parts := strings.Split(path.Clean(filepath.ToSlash(p)), "/")
	for i := range parts {
		if parts[i] == bugReportProxies && i+3 < len(parts) {
			return Pod{Namespace: parts[i+1], Name: parts[i+2]}, strings.Join(parts[i+3:], "/"), true
		}
	}
	return Pod{}, "", false
}

// IsBugReport reports whether path is an istioctl bug-report archive (.tar.gz, .tgz) or its
// unpacked directory (holding proxies/, at its root or under bug-report/).
func IsBugReport(p string) bool {
	st, err := os.Stat(p)
	if err != nil {
		return false
	}
	if !st.IsDir() {
		return strings.HasSuffix(p, ".tar.gz") || strings.HasSuffix(p, ".tgz")
	}
	for _, d := range []string{bugReportProxies, filepath.Join("bug-report", bugReportProxies)} {
		if st, err := os.Stat(filepath.Join(p, d)); err == nil && st.IsDir() {
			return true
		}
	}
	return false
}

// ReadBugReport inspects every proxy of a bug-report archive or directory. Outputs are read
// whole (each at most caps.MaxBytes); logs are streamed, a tar archive in a second pass, so
// memory stays bounded by the largest config dump, not the archive.
func ReadBugReport(p string, caps Caps, logFormat string, now time.Time) ([]PodReport, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("cannot read bug report %s: %w", p, err)
	}
	var reports []PodReport
	if st.IsDir() {
		reports, err = readBugReportDir(p, caps, logFormat, now)
	} else {
		reports, err = readBugReportTar(p, caps, logFormat, now)
	}
	if err != nil {
		return nil, err
	}
	if len(reports) == 0 {
		return nil, fmt.Errorf("bug report %s holds no proxy output under %s/NAMESPACE/POD/: was it made with --exclude for every namespace?", p, bugReportProxies)
	}
	sort.Slice(reports, func(i, j int) bool { return reports[i].Pod.Key() < reports[j].Pod.Key() })
	return reports, nil
}

// bugReportPods gathers the proxies' outputs (not their logs) by pod.
type bugReportPods struct {
	caps    Caps
	format  string
	sources map[string]*Sources
}

func (b *bugReportPods) add(name string, r io.Reader) error {
	pod, file, ok := bugReportPod(name)
	if !ok {
		return nil
	}
	key := pod.Key()
	src := b.sources[key]
	if src == nil {
		src = &Sources{Pod: pod, LogFormat: b.format}
		b.sources[key] = src
	}
	into, ok := bugReportFiles[file]
	if !ok {
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(r, b.caps.MaxBytes+1))
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", name, err)
	}
	if int64(len(data)) > b.caps.MaxBytes {
		return fmt.Errorf("%s is larger than %d bytes: raise --max-bytes", name, b.caps.MaxBytes)
	}
	into(src, name, data)
	return nil
}

// inspect classifies one pod with its log, if any.
func (b *bugReportPods) inspect(key string, log io.Reader, logName string, now time.Time) PodReport {
	src := *b.sources[key]
	if log != nil {
		src.AccessLog, src.Origins.AccessLog = log, logName
	}
	if log == nil && src.ConfigDump == nil && src.MoreConfig == nil && src.Clusters == nil && src.Stats == nil && src.ServerInfo == nil {
		src.Errors = append(src.Errors, fmt.Errorf("the bug report holds none of config_dump?include_eds, clusters, server_info, stats/prometheus, %s for pod %s", bugReportLog, src.Pod.Key()))
	}
	rep, err := Inspect(src, now)
	if err != nil {
		rep.Pod = src.Pod
		rep.Errors = append(rep.Errors, err.Error())
	}
	delete(b.sources, key)
	return rep
}

// rest classifies the pods that had no log.
func (b *bugReportPods) rest(now time.Time) []PodReport {
	var out []PodReport
	for key := range b.sources {
		out = append(out, b.inspect(key, nil, "", now))
	}
	return out
}

func readBugReportDir(root string, caps Caps, logFormat string, now time.Time) ([]PodReport, error) {
	pods := &bugReportPods{caps: caps, format: logFormat, sources: map[string]*Sources{}}
	logs := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if pod, file, ok := bugReportPod(rel); ok && file == bugReportLog {
			logs[pod.Key()] = p
		}
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("cannot read %s: %w", p, err)
		}
		defer f.Close()
		return pods.add(rel, f)
	})
	if err != nil {
		return nil, err
	}
	var out []PodReport
	for key, p := range logs {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", p, err)
		}
		out = append(out, pods.inspect(key, f, p, now))
		f.Close()
	}
	return append(out, pods.rest(now)...), nil
}

func readBugReportTar(p string, caps Caps, logFormat string, now time.Time) ([]PodReport, error) {
	pods := &bugReportPods{caps: caps, format: logFormat, sources: map[string]*Sources{}}
	if err := walkTar(p, pods.add); err != nil {
		return nil, err
	}
	var out []PodReport
	err := walkTar(p, func(name string, r io.Reader) error {
		pod, file, ok := bugReportPod(name)
		if ok && file == bugReportLog && pods.sources[pod.Key()] != nil {
			out = append(out, pods.inspect(pod.Key(), r, p+":"+name, now))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return append(out, pods.rest(now)...), nil
}

// walkTar calls fn for each regular file of a gzipped tar archive.
func walkTar(p string, fn func(name string, r io.Reader) error) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("cannot read bug report %s: %w", p, err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("bug report %s is not a gzipped tar archive: %w", p, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("bug report %s is damaged: %w", p, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if err := fn(h.Name, tr); err != nil {
			return err
		}
	}
}
