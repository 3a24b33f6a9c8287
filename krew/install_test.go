package krew

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const testVersion = "v0.0.0-test"

// TestReleaseInstallsThroughKrewRules runs hack/release.sh for the host platform, then installs
// the result the way krew would (checksum, unpack, files, bin on PATH) and runs the plugin
// through kubectl's plugin discovery. The full platform matrix is `make release`'s job.
func TestReleaseInstallsThroughKrewRules(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin; skipped with -short")
	}
	host := Target{runtime.GOOS, runtime.GOARCH}
	// A cold build cache compiles the whole plugin (Istio validation included) twice: minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	dist := t.TempDir()
	release := exec.CommandContext(ctx, "../hack/release.sh", testVersion)
	release.Env = append(os.Environ(), "DIST="+dist, "PLATFORMS="+host.String())
	if out, err := release.CombinedOutput(); err != nil {
		t.Fatalf("hack/release.sh %s: %v\n%s", testVersion, err, out)
	}

	// Same commit, same bytes: the build date and archive mtimes come from the commit.
	again := t.TempDir()
	release = exec.CommandContext(ctx, "../hack/release.sh", testVersion)
	release.Env = append(os.Environ(), "DIST="+again, "PLATFORMS="+host.String())
	if out, err := release.CombinedOutput(); err != nil {
		t.Fatalf("hack/release.sh %s, second run: %v\n%s", testVersion, err, out)
	}
	first, _ := os.ReadFile(filepath.Join(dist, "checksums.txt"))
	second, _ := os.ReadFile(filepath.Join(again, "checksums.txt"))
	if len(first) == 0 || !bytes.Equal(first, second) {
		t.Errorf("two release runs differ:\n%s\n%s", first, second)
	}

	manifestFile := filepath.Join(dist, "krew", "egress.yaml")
	if err := CheckFile(manifestFile, []Target{host}); err != nil {
		t.Fatalf("the release's krew manifest breaks krew's rules:\n%v", err)
	}
	b, err := os.ReadFile(manifestFile)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if manifest.Spec.Version != testVersion {
		t.Errorf("manifest spec.version = %q, want %q", manifest.Spec.Version, testVersion)
	}

	// Every archive the manifest names is in dist/, with the sha256 the manifest and
	// checksums.txt give.
	sums := readChecksums(t, filepath.Join(dist, "checksums.txt"))
	var mine *Platform
	for i, pl := range manifest.Spec.Platforms {
		archive := path.Base(pl.URI)
		if want := DownloadURI(testVersion, archive); pl.URI != want {
			t.Errorf("platform %d uri = %s, want %s", i, pl.URI, want)
		}
		got := sha256File(t, filepath.Join(dist, archive))
		if got != pl.SHA256 {
			t.Errorf("%s: sha256 %s, manifest says %s", archive, got, pl.SHA256)
		}
		if got != sums[archive] {
			t.Errorf("%s: sha256 %s, checksums.txt says %q", archive, got, sums[archive])
		}
		delete(sums, archive)
		if len(matching(pl.Selector, []Target{host})) == 1 {
			mine = &manifest.Spec.Platforms[i]
		}
	}
	if len(sums) != 0 {
		t.Errorf("checksums.txt lists archives the manifest does not: %v", sums)
	}
	if mine == nil {
		t.Fatalf("no platform in the manifest selects %s", host)
	}

	// Unpack and copy per `files`, as krew does, into the plugin's install directory.
	unpacked, installDir, binDir := t.TempDir(), t.TempDir(), t.TempDir()
	unpack(t, filepath.Join(dist, path.Base(mine.URI)), unpacked)
	for _, f := range mine.Files {
		matches, err := filepath.Glob(filepath.Join(unpacked, filepath.FromSlash(f.From)))
		if err != nil || len(matches) == 0 {
			t.Fatalf("files: from %q matches nothing in the archive (%v)", f.From, err)
		}
		for _, m := range matches {
			copyFile(t, m, filepath.Join(installDir, filepath.FromSlash(f.To), filepath.Base(m)))
		}
	}
	bin := filepath.Join(installDir, filepath.FromSlash(mine.Bin))
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("bin %s is not in the install directory: %v", mine.Bin, err)
	}
	if lic, err := os.ReadFile(filepath.Join(installDir, "LICENSE")); err != nil || !strings.Contains(string(lic), "Apache License") {
		t.Fatalf("LICENSE is not installed, or not the Apache license: %v", err)
	}

	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed: skipping the run through kubectl's plugin discovery")
	}
	// krew links the bin into its bin directory as kubectl-<name>; kubectl finds it on PATH.
	link := filepath.Join(binDir, Binary(host.OS))
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	env := append(os.Environ(),
		"PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+home,
		"KUBECONFIG="+filepath.Join(home, "no-kubeconfig"),
	)
	kubectlRun := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, kubectl, args...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
		}
		return string(out)
	}

	t.Run("kubectl egress version", func(t *testing.T) {
		out := kubectlRun("egress", "version")
		if !strings.HasPrefix(out, "kubectl-egress "+testVersion+" (commit ") {
			t.Errorf("kubectl egress version printed %q, want it to start with kubectl-egress %s", out, testVersion)
		}
		var info struct{ Version, Commit, Date string }
		if err := json.Unmarshal([]byte(kubectlRun("egress", "version", "-o", "json")), &info); err != nil {
			t.Fatal(err)
		}
		if info.Version != testVersion || info.Commit == "unknown" || info.Commit == "" {
			t.Errorf("version -o json = %+v, want version %s and the commit injected", info, testVersion)
		}
		if _, err := time.Parse(time.RFC3339, info.Date); err != nil {
			t.Errorf("build date %q is not RFC 3339: %v", info.Date, err)
		}
	})

	t.Run("kubectl plugin list", func(t *testing.T) {
		if out := kubectlRun("plugin", "list", "--name-only"); !strings.Contains(out, Binary(host.OS)) {
			t.Errorf("kubectl plugin list does not show %s:\n%s", Binary(host.OS), out)
		}
	})

	t.Run("kubectl completes through kubectl_complete-egress", func(t *testing.T) {
		if host.OS == "windows" {
			t.Skip("kubectl_complete-egress is a POSIX shell script")
		}
		copyFile(t, "../kubectl_complete-egress", filepath.Join(binDir, "kubectl_complete-egress"))
		var got []string
		for _, line := range strings.Split(kubectlRun("__complete", "egress", "vers"), "\n") {
			if line != "" && !strings.HasPrefix(line, ":") {
				got = append(got, strings.SplitN(line, "\t", 2)[0])
			}
		}
		if diff := cmp.Diff([]string{"version"}, got); diff != "" {
			t.Errorf("kubectl __complete egress vers (-want +got):\n%s", diff)
		}
	})
}

// Set KREW_MANIFEST to check a manifest written elsewhere, e.g. goreleaser's dist/krew/egress.yaml.
func TestManifestFromEnvironment(t *testing.T) {
	file := os.Getenv("KREW_MANIFEST")
	if file == "" {
		t.Skip("KREW_MANIFEST is not set")
	}
	if err := CheckFile(file, Supported); err != nil {
		t.Fatal(err)
	}
}

func readChecksums(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("checksums.txt line %q is not in sha256sum format", sc.Text())
		}
		sums[name] = sum
	}
	return sums
}

func sha256File(t *testing.T, file string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// unpack extracts a .tar.gz or .zip release archive into dir; entries must stay inside dir.
func unpack(t *testing.T, archive, dir string) {
	t.Helper()
	write := func(name string, mode os.FileMode, r io.Reader) {
		if !filepath.IsLocal(name) {
			t.Fatalf("%s: entry %q escapes the archive", archive, name)
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode.Perm())
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := io.Copy(f, r); err != nil {
			t.Fatal(err)
		}
	}
	switch {
	case strings.HasSuffix(archive, ".zip"):
		zr, err := zip.OpenReader(archive)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			write(f.Name, f.Mode(), rc)
			rc.Close()
		}
	case strings.HasSuffix(archive, ".tar.gz"):
		f, err := os.Open(archive)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		gz, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(gz)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if hdr.Typeflag != tar.TypeReg {
				t.Fatalf("%s: entry %q is not a regular file", archive, hdr.Name)
			}
			write(hdr.Name, hdr.FileInfo().Mode(), tr)
		}
	default:
		t.Fatalf("%s is neither .tar.gz nor .zip", archive)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
}
