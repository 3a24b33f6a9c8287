package krew

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// fakeSHA is a well-formed checksum for rendering the template without building anything.
var fakeSHA = strings.Repeat("ab", 32)

// rendered renders egress.yaml for v1.2.3 with every supported target.
func rendered(t *testing.T) []byte {
	t.Helper()
	tmpl, err := os.ReadFile("egress.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var archives []Archive
	for _, tg := range Supported {
		archives = append(archives, Archive{Target: tg, SHA256: fakeSHA})
	}
	b, err := Render(tmpl, "v1.2.3", archives)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func validPlugin(t *testing.T) Plugin {
	t.Helper()
	p, err := Parse(rendered(t))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTemplateRendersValidManifest(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "egress.yaml")
	if err := os.WriteFile(file, rendered(t), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckFile(file, Supported); err != nil {
		t.Fatalf("the rendered template breaks krew's rules:\n%v", err)
	}

	p := validPlugin(t)
	if p.Spec.Version != "v1.2.3" {
		t.Errorf("spec.version = %q, want v1.2.3", p.Spec.Version)
	}
	var got []Platform
	for _, pl := range p.Spec.Platforms {
		if pl.Selector.MatchLabels["os"] == "windows" && pl.Selector.MatchLabels["arch"] == "arm64" {
			got = append(got, pl)
		}
	}
	want := []Platform{{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"os": "windows", "arch": "arm64"}},
		URI:      "https://github.com/kubectl-egress/kubectl-egress/releases/download/v1.2.3/kubectl-egress_v1.2.3_windows_arm64.zip",
		SHA256:   fakeSHA,
		Bin:      "kubectl-egress.exe",
		Files:    []FileOperation{{From: "kubectl-egress.exe", To: "."}, {From: "LICENSE", To: "."}},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("windows/arm64 platform (-want +got):\n%s", diff)
	}
}

// The caveats are the user's only hint of what the plugin needs before the first error.
func TestCaveatsNameWhatThePluginNeeds(t *testing.T) {
	caveats := validPlugin(t).Spec.Caveats
	for _, need := range []string{"sidecar", "pods/portforward", "pods/log", "configmaps in istio-system",
		"networking.istio.io", "serviceentries", "destinationrules", "virtualservices", "gateways",
		"get, list", "create, patch, delete"} {
		if !strings.Contains(caveats, need) {
			t.Errorf("caveats do not mention %q", need)
		}
	}
}

func TestCheckRejectsBrokenManifests(t *testing.T) {
	platform := func(p *Plugin, goos, goarch string) *Platform {
		for i, pl := range p.Spec.Platforms {
			if pl.Selector.MatchLabels["os"] == goos && pl.Selector.MatchLabels["arch"] == goarch {
				return &p.Spec.Platforms[i]
			}
		}
		t.Fatalf("no platform %s/%s in the template", goos, goarch)
		return nil
	}
	linux := func(p *Plugin) *Platform { return platform(p, "linux", "amd64") }
	tests := []struct {
		name    string
		file    string // plugin name from the file name; "egress" if empty
		mutate  func(p *Plugin)
		wantErr string
	}{
		{"old apiVersion", "", func(p *Plugin) { p.APIVersion = "krew.googlecontainertools.github.com/v1alpha1" }, `apiVersion is "krew.googlecontainertools.github.com/v1alpha1"`},
		{"wrong kind", "", func(p *Plugin) { p.Kind = "Plugins" }, `kind is "Plugins"`},
		{"name differs from file", "", func(p *Plugin) { p.Metadata.Name = "egress-tool" }, `metadata.name is "egress-tool", but the file name says "egress"`},
		{"unsafe name", "egress.v2", func(p *Plugin) { p.Metadata.Name = "egress.v2" }, `plugin name "egress.v2" is not allowed`},
		{"reserved Windows name", "nul", func(p *Plugin) { p.Metadata.Name = "nul" }, `plugin name "nul" is not allowed`},
		{"no version", "", func(p *Plugin) { p.Spec.Version = "" }, "spec.version is empty"},
		{"version without v", "", func(p *Plugin) { p.Spec.Version = "1.2.3" }, `spec.version "1.2.3" needs the leading v`},
		{"version not semver", "", func(p *Plugin) { p.Spec.Version = "v1.2" }, `spec.version "v1.2" is not a semantic version`},
		{"homepage over http", "", func(p *Plugin) { p.Spec.Homepage = "http://example.com" }, `spec.homepage: "http://example.com" is not an https URL`},
		{"no short description", "", func(p *Plugin) { p.Spec.ShortDescription = "" }, "spec.shortDescription is empty"},
		{"two-line short description", "", func(p *Plugin) { p.Spec.ShortDescription = "Find egress\nand fix it" }, "spec.shortDescription has a line break"},
		{"long short description", "", func(p *Plugin) { p.Spec.ShortDescription = strings.Repeat("egress ", 8) }, "spec.shortDescription has 56 characters, keep it under 50"},
		{"no description", "", func(p *Plugin) { p.Spec.Description = " \n" }, "spec.description is empty"},
		{"long caveats line", "", func(p *Plugin) { p.Spec.Caveats += strings.Repeat("word ", 20) }, "spec.caveats has a line longer than 80 characters"},
		{"no platforms", "", func(p *Plugin) { p.Spec.Platforms = nil }, "spec.platforms is empty"},
		{"uri over http", "", func(p *Plugin) { linux(p).URI = strings.Replace(linux(p).URI, "https:", "http:", 1) }, "spec.platforms[0]: uri: \"http://github.com/"},
		{"no uri", "", func(p *Plugin) { linux(p).URI = "" }, "spec.platforms[0]: uri: is empty"},
		{"uri not an archive", "", func(p *Plugin) { linux(p).URI = "https://example.com/kubectl-egress" }, `is neither a .tar.gz nor a .zip`},
		{"upper-case sha256", "", func(p *Plugin) { linux(p).SHA256 = strings.ToUpper(fakeSHA) }, "is not 64 lower-case hex digits"},
		{"short sha256", "", func(p *Plugin) { linux(p).SHA256 = fakeSHA[:63] }, "is not 64 lower-case hex digits"},
		{"no bin", "", func(p *Plugin) { linux(p).Bin = "" }, "spec.platforms[0]: bin is empty"},
		{"bin outside install dir", "", func(p *Plugin) { linux(p).Bin = "../kubectl-egress" }, `bin "../kubectl-egress" must be a relative path inside the install directory`},
		{"bin not installed", "", func(p *Plugin) { linux(p).Bin = "bin/kubectl-egress" }, `bin "bin/kubectl-egress" is not among the files installed`},
		{"files empty", "", func(p *Plugin) { linux(p).Files = []FileOperation{} }, "files is present but empty"},
		{"file without to", "", func(p *Plugin) { linux(p).Files[1].To = "" }, "files[1] needs both from and to"},
		{"file escaping", "", func(p *Plugin) { linux(p).Files[1].To = "../.." }, `files[1].to "../.." must stay inside the install directory`},
		{"windows bin without exe", "", func(p *Plugin) {
			w := platform(p, "windows", "amd64")
			w.Bin, w.Files[0].From = "kubectl-egress", "kubectl-egress"
		}, `bin "kubectl-egress" is for Windows and must end in .exe`},
		{"no selector", "", func(p *Plugin) { linux(p).Selector = nil }, "spec.platforms[0]: selector: missing"},
		{"empty selector", "", func(p *Plugin) { linux(p).Selector = &metav1.LabelSelector{} }, "spec.platforms[0]: selector: empty"},
		{"selector on other key", "", func(p *Plugin) { linux(p).Selector.MatchLabels["distro"] = "debian" }, `selector: key "distro" is not supported`},
		{"bad expression", "", func(p *Plugin) {
			linux(p).Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "os", Operator: "Is", Values: []string{"linux"}}}}
		}, `spec.platforms[0]: selector: "Is" is not a valid label selector operator`},
		{"selector matching nothing", "", func(p *Plugin) { linux(p).Selector.MatchLabels["os"] = "plan9" }, "selector arch=amd64,os=plan9 matches no os/arch"},
		{"overlapping selectors", "", func(p *Plugin) {
			extra := *linux(p)
			extra.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"os": "linux"}}
			p.Spec.Platforms = append(p.Spec.Platforms, extra)
		}, "spec.platforms [0 6] overlap: each selects linux/amd64"},
		{"platform missing", "", func(p *Plugin) { p.Spec.Platforms = p.Spec.Platforms[:5] }, "no spec.platforms entry selects windows/arm64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPlugin(t)
			tt.mutate(&p)
			name := tt.file
			if name == "" {
				name = "egress"
			}
			err := Check(name, p, Supported)
			if err == nil {
				t.Fatalf("Check accepted the manifest, want an error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Check() error:\n%v\nwant it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseRejectsUnknownFields(t *testing.T) {
	b := strings.Replace(string(rendered(t)), "shortDescription:", "shortDesc:", 1)
	if _, err := Parse([]byte(b)); err == nil || !strings.Contains(err.Error(), `unknown field "shortDesc"`) {
		t.Fatalf("Parse() error = %v, want unknown field shortDesc", err)
	}
}

func TestCheckFileTakesTheNameFromTheFile(t *testing.T) {
	dir := t.TempDir()
	for file, wantErr := range map[string]string{
		"egress-tool.yaml": `krew manifest egress-tool.yaml: metadata.name is "egress", but the file name says "egress-tool"`,
		"egress.yml":       "krew manifest egress.yml: file name must end in .yaml",
	} {
		path := filepath.Join(dir, file)
		if err := os.WriteFile(path, rendered(t), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := CheckFile(path, Supported); err == nil || err.Error() != wantErr {
			t.Errorf("CheckFile(%s) = %v, want %q", file, err, wantErr)
		}
	}
}

// goreleaser writes its own krew manifest from .goreleaser.yaml; both must tell users the same.
func TestGoreleaserAgreesWithTemplate(t *testing.T) {
	b, err := os.ReadFile("../.goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Builds []struct {
			Goos   []string `json:"goos"`
			Goarch []string `json:"goarch"`
		} `json:"builds"`
		Krews []struct {
			Name             string `json:"name"`
			Homepage         string `json:"homepage"`
			ShortDescription string `json:"short_description"`
			Description      string `json:"description"`
			Caveats          string `json:"caveats"`
		} `json:"krews"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Builds) != 1 || len(cfg.Krews) != 1 {
		t.Fatalf(".goreleaser.yaml has %d builds and %d krews, want 1 each", len(cfg.Builds), len(cfg.Krews))
	}
	var built []Target
	for _, goos := range cfg.Builds[0].Goos {
		for _, goarch := range cfg.Builds[0].Goarch {
			built = append(built, Target{goos, goarch})
		}
	}
	if diff := cmp.Diff(Supported, built); diff != "" {
		t.Errorf(".goreleaser.yaml build matrix (-supported +goreleaser):\n%s", diff)
	}
	p := validPlugin(t)
	k := cfg.Krews[0]
	want := []string{p.Metadata.Name, p.Spec.Homepage, p.Spec.ShortDescription, p.Spec.Description, p.Spec.Caveats}
	got := []string{k.Name, k.Homepage, k.ShortDescription, k.Description, k.Caveats}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf(".goreleaser.yaml krews[0] name, homepage, descriptions and caveats differ from krew/egress.yaml (-template +goreleaser):\n%s", diff)
	}
}
