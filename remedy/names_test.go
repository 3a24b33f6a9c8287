package remedy

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestObjectName(t *testing.T) {
	long := strings.Repeat("very-long-label.", 6) + "example.com"
	tests := []struct {
		host, suffix, want string
	}{
		{"httpbin.org", "", "egress-httpbin-org"},
		{"HTTPBIN.org", "", "egress-httpbin-org"},
		{"*.example.com", "", "egress-wildcard-example-com"},
		{"edition.cnn.com", "-gw", "egress-edition-cnn-com-gw"},
		{"203.0.113.10", "", "egress-203-0-113-10"},
		{"2001:db8::1", "", "egress-2001-db8-1"},
		{"a_b..c", "", "egress-a-b-c"},
		{long, "", "egress-very-long-label-very-long-label-very-long-label-832c89de"},
		{long, "-gw", "egress-very-long-label-very-long-label-very-long-la-e03d842d-gw"},
	}
	for _, tc := range tests {
		got := ObjectName(tc.host, tc.suffix)
		if got != tc.want {
			t.Errorf("ObjectName(%q, %q) = %q, want %q", tc.host, tc.suffix, got, tc.want)
		}
		if errs := validation.IsDNS1123Label(got); len(errs) > 0 {
			t.Errorf("ObjectName(%q, %q) = %q is not a DNS-1123 label: %v", tc.host, tc.suffix, got, errs)
		}
	}
	// Two long hosts that share the first 63 characters still get different names.
	if a, b := ObjectName(long+".a", ""), ObjectName(long+".b", ""); a == b {
		t.Errorf("long hosts collide: %q", a)
	}
}

func TestParseIstioVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    IstioVersion
		wantErr bool
	}{
		{"", IstioVersion{}, false},
		{"1.22", IstioVersion{1, 22}, false},
		{"1.22.3", IstioVersion{1, 22}, false},
		{"v1.31.1", IstioVersion{1, 31}, false},
		{"1.23.0-beta.1", IstioVersion{1, 23}, false},
		{"1.24-dev", IstioVersion{1, 24}, false},
		{"latest", IstioVersion{}, true},
		{"1", IstioVersion{}, true},
	}
	for _, tc := range tests {
		got, err := ParseIstioVersion(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseIstioVersion(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	v := IstioVersion{1, 8}
	if !v.AtLeast(1, 8) || v.AtLeast(1, 9) || !v.Before(1, 9) || v.Before(1, 8) {
		t.Errorf("comparisons of %v are wrong", v)
	}
	if (IstioVersion{}).AtLeast(1, 0) || (IstioVersion{}).Before(9, 0) {
		t.Errorf("an unknown version must be neither at least nor before anything")
	}
	for v, want := range map[IstioVersion]string{{}: NetworkingV1, {1, 22}: NetworkingV1, {1, 21}: NetworkingV1beta1, {1, 4}: NetworkingV1alpha3} {
		if got := apiVersionFor(v); got != want {
			t.Errorf("apiVersionFor(%v) = %s, want %s", v, got, want)
		}
	}
}
