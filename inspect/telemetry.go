package inspect

import (
	"fmt"
	"strconv"
	"strings"
)

// enableAccessLoggingYAML is the one Telemetry resource that turns Envoy access logging on for
// a namespace (istio.io access-log task). telemetry.istio.io/v1 exists from Istio 1.22.
func enableAccessLoggingYAML(namespace, istioVersion string) string {
	if namespace == "" {
		namespace = "istio-system"
	}
	apiVersion := "telemetry.istio.io/v1"
	if major, minor, ok := majorMinor(istioVersion); ok && (major == 1 && minor < 22) {
		apiVersion = "telemetry.istio.io/v1alpha1"
	}
	return fmt.Sprintf(`apiVersion: %s
kind: Telemetry
metadata:
  name: access-logging
  namespace: %s
spec:
  accessLogging:
  - providers:
    - name: envoy
`, apiVersion, namespace)
}

func majorMinor(v string) (int, int, bool) {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	return major, minor, err1 == nil && err2 == nil
}
