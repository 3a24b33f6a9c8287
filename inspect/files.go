package inspect

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// sniffBytes is how much of a file is read to recognise it; access logs are streamed after that.
const sniffBytes = 64 << 10

// OpenFiles reads saved admin outputs and access logs (files, or every file in a directory)
// into one pod's Sources, recognising each by content. Config dumps fill ConfigDump, then
// Listeners, then Routes, so a full dump or three filtered ones both work. The returned close
// function closes the access-log files once the sources have been inspected.
func OpenFiles(paths []string, caps Caps) (Sources, func(), error) {
	src := Sources{Pod: Pod{Name: "file"}}
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return src, nil, fmt.Errorf("cannot read --file %s: %w", p, err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return src, nil, fmt.Errorf("cannot read --file directory %s: %w", p, err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
	}
	sort.Strings(files)
	var logs []io.Reader
	var closers []io.Closer
	closeAll := func() {
		for _, c := range closers {
			c.Close()
		}
	}
	recognised := 0
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			closeAll()
			return src, nil, fmt.Errorf("cannot read --file %s: %w", name, err)
		}
		br := bufio.NewReaderSize(f, sniffBytes)
		head, _ := br.Peek(sniffBytes)
		kind := DetectKind(head)
		if kind == KindAccessLog {
			logs = append(logs, br)
			closers = append(closers, f)
			recognised++
			continue
		}
		b, err := io.ReadAll(io.LimitReader(br, caps.MaxBytes+1))
		f.Close()
		if err != nil {
			closeAll()
			return src, nil, fmt.Errorf("cannot read --file %s: %w", name, err)
		}
		if int64(len(b)) > caps.MaxBytes {
			closeAll()
			return src, nil, fmt.Errorf("--file %s is larger than %d bytes: raise --max-bytes", name, caps.MaxBytes)
		}
		if kind == KindUnknown {
			kind = DetectKind(b)
		}
		var slot *[]byte
		switch kind {
		case KindConfigDump:
			for _, s := range []*[]byte{&src.ConfigDump, &src.Listeners, &src.Routes} {
				if *s == nil {
					slot = s
					break
				}
			}
		case KindClusters:
			slot = &src.Clusters
		case KindPrometheusStats, KindRawStats:
			slot = &src.Stats
		case KindServerInfo:
			slot = &src.ServerInfo
		}
		if slot == nil {
			closeAll()
			return src, nil, fmt.Errorf("--file %s: not a config dump, /clusters?format=json, /stats, /server_info or access log (recognised as %s)", name, kind)
		}
		*slot = b
		recognised++
	}
	if recognised == 0 {
		return src, nil, fmt.Errorf("--file %v: %w", paths, ErrNoSources)
	}
	if len(logs) > 0 {
		src.AccessLog = io.MultiReader(logs...)
	}
	return src, closeAll, nil
}
