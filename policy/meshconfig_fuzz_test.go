package policy

import "testing"

// FuzzMeshConfig feeds the mesh ConfigMap's "mesh" key, which policy reads from the cluster:
// whatever YAML is there must give a mesh config or an error naming it, never a crash.
func FuzzMeshConfig(f *testing.F) {
	for _, seed := range []string{
		"",
		"outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n",
		"rootNamespace: istio-system\ndefaultServiceExportTo: [\".\"]\noutboundTrafficPolicy: {mode: ALLOW_ANY}\n",
		"accessLogFile: /dev/stdout\naccessLogEncoding: JSON\nenableTracing: true\ndefaultConfig:\n  proxyMetadata: {ISTIO_META_DNS_CAPTURE: \"true\"}\n  holdApplicationUntilProxyStarts: true\n",
		"outboundTrafficPolicy:\n  mode: 7\n",
		"outboundTrafficPolicy: [",
		"{\"outboundTrafficPolicy\": {\"mode\": \"REGISTRY_ONLY\"}}",
		"extensionProviders:\n- name: otel\n  envoyOtelAls: {service: x, port: 4317}\n",
		"&a [*a, *a]",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, yaml string) {
		mc, err := ParseMeshConfig("default", "istio-system/istio", yaml)
		if err == nil && len(mc.DefaultExportTo) == 0 {
			t.Fatal("a parsed mesh config without defaultServiceExportTo")
		}
	})
}
