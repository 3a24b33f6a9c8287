package krew

import "fmt"

// Repository is where releases are published; archive URIs point at its release downloads.
const Repository = "https://github.com/kubectl-egress/kubectl-egress"

// Target is an os/arch pair in Go's spelling, which is also krew's selector vocabulary.
type Target struct {
	OS   string
	Arch string
}

func (t Target) String() string { return t.OS + "/" + t.Arch }

// Supported are the targets every release builds and the manifest must cover.
var Supported = []Target{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
}

// Binary is the executable's name inside the archive for goos.
func Binary(goos string) string {
	if goos == "windows" {
		return "kubectl-egress.exe"
	}
	return "kubectl-egress"
}

// ArchiveName is the release archive for version and t: a zip on Windows, where tar is not a
// given, a gzipped tarball elsewhere.
func ArchiveName(version string, t Target) string {
	ext := "tar.gz"
	if t.OS == "windows" {
		ext = "zip"
	}
	return fmt.Sprintf("kubectl-egress_%s_%s_%s.%s", version, t.OS, t.Arch, ext)
}

// DownloadURI is where GitHub serves a release's archive.
func DownloadURI(version, archive string) string {
	return Repository + "/releases/download/" + version + "/" + archive
}
