// Package version holds the build's version, set with -ldflags at release time.
package version

// Set with -ldflags "-X github.com/kubectl-egress/kubectl-egress/internal/version.Version=v1.2.3" etc.
var (
	Version = "dev"
	Commit  = "unknown"
	Date    = "unknown"
)

// Info is the version as printed by `kubectl egress version -o json`.
type Info struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Date    string `json:"date"`
}

// Get returns the build's version information.
func Get() Info { return Info{Version: Version, Commit: Commit, Date: Date} }
