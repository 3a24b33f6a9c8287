package krew

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilversion "k8s.io/apimachinery/pkg/util/version"
)

// Limits krew gives as advice (krew's validate-krew-manifest warns past 70 and 80 characters;
// krew-index reviewers ask for a short description of a few words, so we hold ours to 50).
const (
	MaxShortDescription = 50
	MaxLineLength       = 80
)

var (
	// krew internal/index/validation: IsSafePluginName.
	safeName = regexp.MustCompile(`^[\w-]+$`)
	sha256Re = regexp.MustCompile(`^[a-f0-9]{64}$`)
	// Names Windows refuses for files; krew rejects them as plugin names.
	windowsReserved = []string{"CON", "PRN", "AUX", "NUL",
		"COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
		"LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9"}
)

// known are the os/arch pairs a selector may be meant for: a platform entry must match one of
// them, and no pair may be matched by two entries (krew would pick one arbitrarily).
var known = func() []Target {
	var ts []Target
	for _, os := range []string{"linux", "darwin", "windows", "freebsd"} {
		for _, arch := range []string{"386", "amd64", "arm", "arm64", "ppc64le", "s390x"} {
			ts = append(ts, Target{os, arch})
		}
	}
	return ts
}()

// CheckFile reads the manifest at file and checks it with the plugin name krew derives from the
// file's base name.
func CheckFile(file string, required []Target) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	base := filepath.Base(file)
	if filepath.Ext(base) != ".yaml" {
		return fmt.Errorf("krew manifest %s: file name must end in .yaml", base)
	}
	p, err := Parse(b)
	if err != nil {
		return fmt.Errorf("krew manifest %s: %w", base, err)
	}
	if err := Check(strings.TrimSuffix(base, ".yaml"), p, required); err != nil {
		return fmt.Errorf("krew manifest %s: %w", base, err)
	}
	return nil
}

// Check applies krew's rules (krew internal/index/validation and cmd/validate-krew-manifest)
// to the manifest of the plugin name, plus this project's: https URIs, line lengths as errors,
// and every required target covered by exactly one platform. It reports every problem found.
func Check(name string, p Plugin, required []Target) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if p.APIVersion != APIVersion {
		bad("apiVersion is %q, krew only reads %q", p.APIVersion, APIVersion)
	}
	if p.Kind != Kind {
		bad("kind is %q, krew only reads %q", p.Kind, Kind)
	}
	if !safeName.MatchString(name) || slices.ContainsFunc(windowsReserved, func(r string) bool { return strings.EqualFold(r, name) }) {
		bad("plugin name %q is not allowed: it must match %s and not be a reserved Windows file name", name, safeName)
	}
	if p.Metadata.Name != name {
		bad("metadata.name is %q, but the file name says %q", p.Metadata.Name, name)
	}

	s := p.Spec
	switch {
	case s.Version == "":
		bad("spec.version is empty")
	case !strings.HasPrefix(s.Version, "v"):
		bad("spec.version %q needs the leading v", s.Version)
	default:
		if _, err := utilversion.ParseSemantic(strings.TrimPrefix(s.Version, "v")); err != nil {
			bad("spec.version %q is not a semantic version: %v", s.Version, err)
		}
	}
	if err := checkHTTPS(s.Homepage); err != nil {
		bad("spec.homepage: %v", err)
	}
	switch {
	case s.ShortDescription == "":
		bad("spec.shortDescription is empty")
	case strings.ContainsAny(s.ShortDescription, "\r\n"):
		bad("spec.shortDescription has a line break: it must be one line")
	case len(s.ShortDescription) > MaxShortDescription:
		bad("spec.shortDescription has %d characters, keep it under %d", len(s.ShortDescription), MaxShortDescription)
	}
	if strings.TrimSpace(s.Description) == "" {
		bad("spec.description is empty")
	}
	for _, f := range []struct{ name, text string }{{"description", s.Description}, {"caveats", s.Caveats}} {
		if line, ok := longLine(f.text); !ok {
			bad("spec.%s has a line longer than %d characters: %q", f.name, MaxLineLength, line)
		}
	}

	if len(s.Platforms) == 0 {
		bad("spec.platforms is empty")
	}
	for i, pl := range s.Platforms {
		for _, err := range checkPlatform(pl) {
			bad("spec.platforms[%d]: %v", i, err)
		}
	}
	errs = append(errs, checkCoverage(s.Platforms, required)...)
	return errors.Join(errs...)
}

func checkPlatform(pl Platform) []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if err := checkHTTPS(pl.URI); err != nil {
		bad("uri: %v", err)
	} else if !strings.HasSuffix(pl.URI, ".tar.gz") && !strings.HasSuffix(pl.URI, ".zip") {
		bad("uri %q is neither a .tar.gz nor a .zip", pl.URI)
	}
	if !sha256Re.MatchString(pl.SHA256) {
		bad("sha256 %q is not 64 lower-case hex digits", pl.SHA256)
	}
	switch {
	case pl.Bin == "":
		bad("bin is empty")
	case !localPath(pl.Bin):
		bad("bin %q must be a relative path inside the install directory", pl.Bin)
	}
	if pl.Files != nil && len(pl.Files) == 0 {
		bad("files is present but empty: leave it out or list the files")
	}
	copied := pl.Files == nil // krew copies the whole archive when files is absent
	for j, f := range pl.Files {
		if f.From == "" || f.To == "" {
			bad("files[%d] needs both from and to", j)
			continue
		}
		if !localPath(f.To) {
			bad("files[%d].to %q must stay inside the install directory", j, f.To)
		}
		dest := path.Base(f.From)
		if path.Clean(f.To) != "." {
			dest = path.Join(path.Clean(f.To), dest)
		}
		if ok, _ := path.Match(dest, path.Clean(pl.Bin)); ok {
			copied = true
		}
	}
	if pl.Bin != "" && !copied {
		bad("bin %q is not among the files installed", pl.Bin)
	}
	if err := checkSelector(pl.Selector); err != nil {
		bad("selector: %v", err)
		return errs
	}
	matched := matching(pl.Selector, known)
	if len(matched) == 0 {
		bad("selector %s matches no os/arch", metav1.FormatLabelSelector(pl.Selector))
	}
	if slices.ContainsFunc(matched, func(t Target) bool { return t.OS == "windows" }) && !strings.HasSuffix(pl.Bin, ".exe") {
		bad("bin %q is for Windows and must end in .exe", pl.Bin)
	}
	return errs
}

// checkSelector holds a selector to krew's validateSelector: present, not empty, only os and
// arch keys, and parseable.
func checkSelector(sel *metav1.LabelSelector) error {
	if sel == nil {
		return errors.New("missing: krew needs matchLabels or matchExpressions on os and arch")
	}
	if len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0 {
		return errors.New("empty: krew needs matchLabels or matchExpressions on os and arch")
	}
	for k := range sel.MatchLabels {
		if k != "os" && k != "arch" {
			return fmt.Errorf("key %q is not supported, only os and arch", k)
		}
	}
	for _, e := range sel.MatchExpressions {
		if e.Key != "os" && e.Key != "arch" {
			return fmt.Errorf("key %q is not supported, only os and arch", e.Key)
		}
	}
	if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
		return err
	}
	return nil
}

// checkCoverage reports targets that two platforms both match, and required targets that no
// platform matches.
func checkCoverage(platforms []Platform, required []Target) []error {
	var errs []error
	for _, t := range known {
		var idx []int
		for i, pl := range platforms {
			if checkSelector(pl.Selector) == nil && len(matching(pl.Selector, []Target{t})) == 1 {
				idx = append(idx, i)
			}
		}
		if len(idx) > 1 {
			errs = append(errs, fmt.Errorf("spec.platforms %v overlap: each selects %s", idx, t))
		}
		if len(idx) == 0 && slices.Contains(required, t) {
			errs = append(errs, fmt.Errorf("no spec.platforms entry selects %s", t))
		}
	}
	for _, t := range required {
		if !slices.Contains(known, t) {
			errs = append(errs, fmt.Errorf("required target %s is not a known os/arch", t))
		}
	}
	return errs
}

// matching returns the targets sel selects, evaluated as krew does: labels os and arch.
func matching(sel *metav1.LabelSelector, targets []Target) []Target {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil
	}
	var out []Target
	for _, t := range targets {
		if s.Matches(labels.Set{"os": t.OS, "arch": t.Arch}) {
			out = append(out, t)
		}
	}
	return out
}

func checkHTTPS(raw string) error {
	if raw == "" {
		return errors.New("is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q is not an https URL", raw)
	}
	return nil
}

// localPath reports whether p is relative and stays below the directory it is relative to.
func localPath(p string) bool {
	return filepath.IsLocal(filepath.FromSlash(p)) || path.Clean(p) == "."
}

// longLine returns the first line of text longer than MaxLineLength that is not a single word
// (a URL may be long), and false if there is one.
func longLine(text string) (string, bool) {
	for _, line := range strings.Split(text, "\n") {
		if len(line) > MaxLineLength && strings.Contains(strings.TrimSpace(line), " ") {
			return line, false
		}
	}
	return "", true
}
