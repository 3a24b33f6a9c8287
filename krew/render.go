package krew

import (
	"bytes"
	"fmt"
	"text/template"
)

// Archive is one built release archive: the target it runs on and its sha256 in hex.
type Archive struct {
	Target
	SHA256 string
}

// Release is what the template egress.yaml is rendered with.
type Release struct {
	Version   string
	Platforms []ReleasePlatform
}

// ReleasePlatform is one platform entry of the rendered manifest.
type ReleasePlatform struct {
	OS, Arch, URI, SHA256, Bin string
}

// Render fills the manifest template with version and one platform entry per archive, in the
// order given.
func Render(tmpl []byte, version string, archives []Archive) ([]byte, error) {
	t, err := template.New("krew").Option("missingkey=error").Parse(string(tmpl))
	if err != nil {
		return nil, fmt.Errorf("failed to parse the krew manifest template: %w", err)
	}
	r := Release{Version: version}
	for _, a := range archives {
		r.Platforms = append(r.Platforms, ReleasePlatform{
			OS:     a.OS,
			Arch:   a.Arch,
			URI:    DownloadURI(version, ArchiveName(version, a.Target)),
			SHA256: a.SHA256,
			Bin:    Binary(a.OS),
		})
	}
	var out bytes.Buffer
	if err := t.Execute(&out, r); err != nil {
		return nil, fmt.Errorf("failed to render the krew manifest for %s: %w", version, err)
	}
	return out.Bytes(), nil
}
