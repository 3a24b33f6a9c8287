package remedy

import (
	"encoding/json"
	"fmt"

	networking "istio.io/api/networking/v1alpha3"
	telemetry "istio.io/api/telemetry/v1alpha1"
	"istio.io/istio/pkg/config"
	"istio.io/istio/pkg/config/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// validators are Istio's webhook validation functions for the kinds a plan writes. They are taken
// from pkg/config/validation directly: its collections/schema registry would pull the Gateway API
// modules into the build for nothing.
var validators = map[string]struct {
	newSpec  func() config.Spec
	validate validation.ValidateFunc
}{
	"ServiceEntry":    {func() config.Spec { return &networking.ServiceEntry{} }, validation.ValidateServiceEntry},
	"DestinationRule": {func() config.Spec { return &networking.DestinationRule{} }, validation.ValidateDestinationRule},
	"VirtualService":  {func() config.Spec { return &networking.VirtualService{} }, validation.ValidateVirtualService},
	"Gateway":         {func() config.Spec { return &networking.Gateway{} }, validation.ValidateGateway},
	"Sidecar":         {func() config.Spec { return &networking.Sidecar{} }, validation.ValidateSidecar},
	"Telemetry":       {func() config.Spec { return &telemetry.Telemetry{} }, validation.ValidateTelemetry},
}

// Validate runs Istio's own validation (the webhook's, from istio.io/istio/pkg/config/validation)
// on an object as it will be sent. It returns Istio's warnings;
// an error names the object and what Istio rejects.
func Validate(u *unstructured.Unstructured) (warnings []string, err error) {
	gvk := u.GroupVersionKind()
	ref := fmt.Sprintf("%s %s/%s", gvk.Kind, u.GetNamespace(), u.GetName())
	if k, ok := infoOf(gvk.Group, gvk.Kind); ok && !k.istio() {
		return nil, nil // not Istio's: the API server's own validation judges it (server dry run)
	}
	v, ok := validators[gvk.Kind]
	if !ok {
		return nil, fmt.Errorf("cannot validate %s: kubectl-egress does not write %s", ref, gvk)
	}
	spec := v.newSpec()
	raw, err := json.Marshal(u.Object["spec"])
	if err != nil {
		return nil, fmt.Errorf("cannot validate %s: %w", ref, err)
	}
	// The spec types decode with the same JSON rules the API server's CRD schema accepts.
	if err := json.Unmarshal(raw, spec); err != nil {
		return nil, fmt.Errorf("invalid %s: %w", ref, err)
	}
	cfg := config.Config{
		Meta: config.Meta{
			GroupVersionKind: config.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
			Name:             u.GetName(),
			Namespace:        u.GetNamespace(),
			Labels:           u.GetLabels(),
			Annotations:      u.GetAnnotations(),
		},
		Spec: spec,
	}
	warn, err := v.validate(cfg)
	if err != nil {
		return nil, fmt.Errorf("istio rejects %s: %w", ref, err)
	}
	if warn != nil {
		warnings = append(warnings, fmt.Sprintf("%s: %v", ref, warn))
	}
	return warnings, nil
}

// validate checks every object of the plan, adding Istio's warnings to the plan's; the first
// invalid object stops the plan before anything is sent.
func (p *Plan) validate() error {
	objs, err := p.Unstructured()
	if err != nil {
		return err
	}
	for _, u := range objs {
		w, err := Validate(u)
		if err != nil {
			return err
		}
		p.Warnings = append(p.Warnings, w...)
	}
	return nil
}
