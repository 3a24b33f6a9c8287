// Command archive packs the binaries hack/release.sh built into the release archives, writes
// checksums.txt and renders the krew manifest, then checks that manifest with krew's rules.
// It writes archives in Go so that they are byte-for-byte reproducible (sorted entries, fixed
// owners and mtimes) and so that no zip tool needs to be installed.
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kubectl-egress/kubectl-egress/krew"
)

// entry is one file in an archive.
type entry struct {
	name string
	mode fs.FileMode
	data []byte
}

func main() {
	var (
		version  = flag.String("version", "", "release version, with the leading v")
		builds   = flag.String("builds", "", "directory holding OS_ARCH/<binary> for each target")
		dist     = flag.String("dist", "dist", "output directory")
		license  = flag.String("license", "LICENSE", "license file to put in every archive")
		tmpl     = flag.String("template", "krew/egress.yaml", "krew manifest template")
		targets  = flag.String("targets", "", "space-separated OS/ARCH list, in manifest order")
		mtime    = flag.Int64("mtime", 0, "modification time of archive entries, in Unix seconds")
		complete = flag.Bool("complete", false, "require every supported target in the manifest")
	)
	flag.Parse()
	if err := run(*version, *builds, *dist, *license, *tmpl, *targets, time.Unix(*mtime, 0).UTC(), *complete); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}

func run(version, builds, dist, license, tmplFile, targetList string, mtime time.Time, complete bool) error {
	if version == "" || builds == "" || targetList == "" {
		return fmt.Errorf("-version, -builds and -targets are required")
	}
	lic, err := os.ReadFile(license)
	if err != nil {
		return err
	}
	tmpl, err := os.ReadFile(tmplFile)
	if err != nil {
		return err
	}
	var targets []krew.Target
	for _, s := range strings.Fields(targetList) {
		goos, goarch, ok := strings.Cut(s, "/")
		if !ok {
			return fmt.Errorf("target %q is not OS/ARCH", s)
		}
		targets = append(targets, krew.Target{OS: goos, Arch: goarch})
	}

	var archives []krew.Archive
	var sums []string
	for _, t := range targets {
		bin, err := os.ReadFile(filepath.Join(builds, t.OS+"_"+t.Arch, krew.Binary(t.OS)))
		if err != nil {
			return fmt.Errorf("failed to read the binary for %s: %w", t, err)
		}
		entries := []entry{
			{name: krew.Binary(t.OS), mode: 0o755, data: bin},
			{name: "LICENSE", mode: 0o644, data: lic},
		}
		slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
		name := krew.ArchiveName(version, t)
		var b []byte
		if t.OS == "windows" {
			b, err = zipArchive(entries, mtime)
		} else {
			b, err = tarGz(entries, mtime)
		}
		if err != nil {
			return fmt.Errorf("failed to write %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dist, name), b, 0o644); err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		archives = append(archives, krew.Archive{Target: t, SHA256: hex.EncodeToString(sum[:])})
		sums = append(sums, hex.EncodeToString(sum[:])+"  "+name+"\n")
	}
	slices.SortFunc(sums, func(a, b string) int { return strings.Compare(a[66:], b[66:]) })
	if err := os.WriteFile(filepath.Join(dist, "checksums.txt"), []byte(strings.Join(sums, "")), 0o644); err != nil {
		return err
	}

	manifest, err := krew.Render(tmpl, version, archives)
	if err != nil {
		return err
	}
	file := filepath.Join(dist, "krew", filepath.Base(tmplFile))
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(file, manifest, 0o644); err != nil {
		return err
	}
	required := targets
	if complete {
		required = krew.Supported
	}
	return krew.CheckFile(file, required)
}

func tarGz(entries []entry, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	// A zero gzip header (no name, no mtime) keeps the bytes independent of the build host.
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     e.name,
			Mode:     int64(e.mode),
			Size:     int64(len(e.data)),
			ModTime:  mtime,
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func zipArchive(entries []entry, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: mtime}
		hdr.SetMode(e.mode)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
