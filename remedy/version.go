package remedy

import (
	"fmt"
	"strconv"
	"strings"
)

// NetworkingGroup is the API group of every object a plan writes.
const NetworkingGroup = "networking.istio.io"

// API versions of networking.istio.io, newest first: v1 is served from Istio 1.22, v1beta1 from 1.5.
const (
	NetworkingV1       = NetworkingGroup + "/v1"
	NetworkingV1beta1  = NetworkingGroup + "/v1beta1"
	NetworkingV1alpha3 = NetworkingGroup + "/v1alpha3"
)

// IstioVersion is the control plane's minor version. The zero value means unknown, which plans
// as a current Istio except for features too new to assume (DYNAMIC_DNS for sidecars).
type IstioVersion struct {
	Major, Minor int
}

// ParseIstioVersion reads "1.22", "1.22.3", "v1.22.3" or "1.23.0-beta.1"; "" gives the zero value.
func ParseIstioVersion(s string) (IstioVersion, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if s == "" {
		return IstioVersion{}, nil
	}
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return IstioVersion{}, fmt.Errorf("invalid Istio version %q: want MAJOR.MINOR[.PATCH]", s)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.SplitN(parts[1], "-", 2)[0])
	if err1 != nil || err2 != nil || major < 1 {
		return IstioVersion{}, fmt.Errorf("invalid Istio version %q: want MAJOR.MINOR[.PATCH]", s)
	}
	return IstioVersion{Major: major, Minor: minor}, nil
}

// Known tells whether the version was given.
func (v IstioVersion) Known() bool { return v.Major > 0 }

// AtLeast tells whether v is known and at least major.minor.
func (v IstioVersion) AtLeast(major, minor int) bool {
	return v.Known() && (v.Major > major || v.Major == major && v.Minor >= minor)
}

// Before tells whether v is known and older than major.minor.
func (v IstioVersion) Before(major, minor int) bool {
	return v.Known() && !v.AtLeast(major, minor)
}

func (v IstioVersion) String() string {
	if !v.Known() {
		return "unknown"
	}
	return fmt.Sprintf("%d.%d", v.Major, v.Minor)
}

// apiVersionFor is the newest networking.istio.io version an Istio of version v serves.
func apiVersionFor(v IstioVersion) string {
	switch {
	case v.Before(1, 5):
		return NetworkingV1alpha3
	case v.Before(1, 22):
		return NetworkingV1beta1
	default:
		return NetworkingV1
	}
}
