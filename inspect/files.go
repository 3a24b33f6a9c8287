package inspect

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// sniffBytes is how much of a file is read to recognise it; access logs are streamed after that.
const sniffBytes = 64 << 10

// OpenFiles reads saved admin outputs and access logs (files, or every file in a directory)
// into one pod's Sources, recognising each by content; logFormat is the user's access-log
// format (--log-format), or "". The first config dump fills ConfigDump and the others
// MoreConfig, so a full dump or filtered ones both work. The returned close function closes
// the access-log files once the sources have been inspected.
func OpenFiles(paths []string, caps Caps, logFormat string) (Sources, func(), error) {
	src := Sources{Pod: Pod{Name: "file"}, LogFormat: logFormat}
	formats := DefaultLogFormats
	if logFormat != "" {
		lf, err := ParseLogFormat("--log-format", logFormat)
		if err != nil {
			return src, nil, err
		}
		formats = append([]*LogFormat{lf}, formats...)
	}
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
	var logs []string
	var readers []io.Reader
	var closers []io.Closer
	closeAll := func() {
		for _, c := range closers {
			c.Close()
		}
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			closeAll()
			return src, nil, fmt.Errorf("cannot read --file %s: %w", name, err)
		}
		br := bufio.NewReaderSize(f, sniffBytes)
		head, _ := br.Peek(sniffBytes)
		kind := detectKind(head, formats)
		if kind == KindAccessLog {
			readers = append(readers, br)
			closers = append(closers, f)
			logs = append(logs, name)
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
		if err := src.add(name, b, detectKind(b, formats)); err != nil {
			closeAll()
			return src, nil, err
		}
	}
	if len(files) == 0 {
		return src, nil, fmt.Errorf("--file %v: %w", paths, ErrNoSources)
	}
	if len(readers) > 0 {
		src.AccessLog = io.MultiReader(readers...)
		src.Origins.AccessLog = strings.Join(logs, ", ")
	}
	return src, closeAll, nil
}

// add files one saved output by its kind, or says what the file looked like.
func (src *Sources) add(name string, b []byte, kind Kind) error {
	set := func(slot *[]byte, origin *string) error {
		if *slot != nil {
			return fmt.Errorf("--file %s and %s are both %s outputs of one proxy: give one, or a bug-report archive for several pods", *origin, name, kind)
		}
		*slot, *origin = b, name
		return nil
	}
	switch kind {
	case KindConfigDump:
		if src.ConfigDump == nil {
			src.ConfigDump, src.Origins.ConfigDump = b, name
		} else {
			src.MoreConfig = append(src.MoreConfig, Part{Name: name, Data: b})
		}
		return nil
	case KindClusters:
		return set(&src.Clusters, &src.Origins.Clusters)
	case KindPrometheusStats, KindRawStats:
		return set(&src.Stats, &src.Origins.Stats)
	case KindServerInfo:
		return set(&src.ServerInfo, &src.Origins.ServerInfo)
	}
	return fmt.Errorf("--file %s is not a config dump, /clusters, /stats, /server_info or access log: it looks like %s; if it is an access log in a format of your own, give it with --log-format", name, describeContent(b))
}

// describeContent says in a few words what unrecognised content looks like.
func describeContent(b []byte) string {
	b = bytes.TrimSpace(b)
	lines := bytes.Count(b, []byte("\n")) + 1
	first, _, _ := bytes.Cut(b, []byte("\n"))
	if len(first) > 80 {
		first = append(first[:77:77], "..."...)
	}
	switch {
	case len(b) == 0:
		return "an empty file"
	case b[0] == '{':
		return fmt.Sprintf("JSON of %d lines starting %q", lines, first)
	}
	return fmt.Sprintf("%d lines of text, none an access-log entry, starting %q", lines, first)
}
