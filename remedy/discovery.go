package remedy

import (
	"errors"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
)

// ErrIstioCRDsAbsent is returned when the cluster serves no networking.istio.io ServiceEntries.
//
//lint:ignore ST1005 Istio is a proper name and the message is the one users see.
var ErrIstioCRDsAbsent = errors.New("Istio CRDs are not installed in this cluster")

// DiscoverNetworking returns the newest networking.istio.io version the API server serves with
// every kind a plan writes: v1 (Istio 1.22+), else v1beta1, else v1alpha3.
func DiscoverNetworking(d discovery.DiscoveryInterface) (string, error) {
	for _, gv := range []string{NetworkingV1, NetworkingV1beta1, NetworkingV1alpha3} {
		list, err := d.ServerResourcesForGroupVersion(gv)
		// A cached discovery client (kubectl's, on disk) answers ErrCacheNotFound for a group the
		// server does not serve, without asking it.
		if apierrors.IsNotFound(err) || errors.Is(err, memory.ErrCacheNotFound) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("failed to discover %s: %w", gv, err)
		}
		var served []string
		for _, r := range list.APIResources {
			served = append(served, r.Name)
		}
		if !slices.Contains(served, "serviceentries") {
			continue
		}
		for _, k := range kinds {
			if k.Group == NetworkingGroup && !slices.Contains(served, k.Resource) {
				return "", fmt.Errorf("%w: %s %s not found", ErrIstioCRDsAbsent, gv, k.Resource)
			}
		}
		return gv, nil
	}
	return "", fmt.Errorf("%w: %s serviceentries not found; check --context, or install Istio", ErrIstioCRDsAbsent, NetworkingV1)
}
