package remedy

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	discoveryfake "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
)

// newFakeCluster is a fake dynamic client that serves Istio's networking kinds at apiVersion,
// Services and Pods, holding objs. The fake's own apply cannot create objects and ignores
// dryRun, so a reactor stands in for the API server's server-side apply: create or replace the
// applied fields, bump resourceVersion, store nothing on dry run.
func newFakeCluster(t *testing.T, apiVersion string, objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	t.Helper()
	gv, _ := schema.ParseGroupVersion(apiVersion)
	listKinds := map[schema.GroupVersionResource]string{servicesGVR: "ServiceList", podsGVR: "PodList", gatewayClassesGVR: "GatewayClassList"}
	for _, k := range kinds {
		kgv := gv
		if k.Version != "" {
			kgv = schema.GroupVersion{Group: k.Group, Version: k.Version}
		}
		listKinds[kgv.WithResource(k.Resource)] = k.Kind + "List"
	}
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds, objs...)
	tracker := client.Tracker()
	rv := 100
	client.PrependReactor("patch", "*", func(action clienttesting.Action) (bool, runtime.Object, error) {
		pa := action.(clienttesting.PatchActionImpl)
		if pa.GetPatchType() != types.ApplyPatchType {
			return false, nil, nil
		}
		applied := &unstructured.Unstructured{}
		if err := json.Unmarshal(pa.GetPatch(), &applied.Object); err != nil {
			return true, nil, err
		}
		gvr, ns, name := pa.GetResource(), pa.GetNamespace(), pa.GetName()
		dryRun := len(pa.GetPatchOptions().DryRun) > 0
		current, err := tracker.Get(gvr, ns, name)
		switch {
		case apierrors.IsNotFound(err):
			obj := applied.DeepCopy()
			obj.SetCreationTimestamp(metav1.Now())
			obj.SetUID(types.UID(fmt.Sprintf("uid-%s", name)))
			rv++
			obj.SetResourceVersion(strconv.Itoa(rv))
			if !dryRun {
				if err := tracker.Create(gvr, obj, ns); err != nil {
					return true, nil, err
				}
			}
			return true, obj, nil
		case err != nil:
			return true, nil, err
		}
		live := current.(*unstructured.Unstructured).DeepCopy()
		merged := live.DeepCopy()
		merged.Object["spec"] = applied.Object["spec"]
		labels, annotations := merged.GetLabels(), merged.GetAnnotations()
		if labels == nil {
			labels = map[string]string{}
		}
		if annotations == nil {
			annotations = map[string]string{}
		}
		maps.Copy(labels, applied.GetLabels())
		maps.Copy(annotations, applied.GetAnnotations())
		merged.SetLabels(labels)
		merged.SetAnnotations(annotations)
		if equalObjects(live, merged) {
			return true, live, nil
		}
		rv++
		merged.SetResourceVersion(strconv.Itoa(rv))
		if !dryRun {
			if err := tracker.Update(gvr, merged, ns); err != nil {
				return true, nil, err
			}
		}
		return true, merged, nil
	})
	return client
}

func equalObjects(a, b *unstructured.Unstructured) bool {
	ja, _ := json.Marshal(stripServerFields(a).Object)
	jb, _ := json.Marshal(stripServerFields(b).Object)
	return string(ja) == string(jb)
}

// failOn makes the fake refuse to apply objects of resource, as an admission webhook would.
func failOn(client *dynamicfake.FakeDynamicClient, resource string) {
	client.PrependReactor("patch", resource, func(action clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewInvalid(schema.GroupKind{Group: NetworkingGroup, Kind: "DestinationRule"},
			action.(clienttesting.PatchActionImpl).GetName(), nil)
	})
}

// fakeDiscovery serves the given versions: networking.istio.io ones with every kind a plan
// writes, GatewayAPIVersion with the Gateway API kinds and GatewayClass.
func fakeDiscovery(versions ...string) *discoveryfake.FakeDiscovery {
	d := &discoveryfake.FakeDiscovery{Fake: &clienttesting.Fake{}}
	for _, v := range versions {
		gv, _ := schema.ParseGroupVersion(v)
		list := &metav1.APIResourceList{GroupVersion: v}
		for _, k := range kinds {
			if k.Group == gv.Group {
				list.APIResources = append(list.APIResources, metav1.APIResource{Name: k.Resource, Kind: k.Kind, Namespaced: true})
			}
		}
		if v == GatewayAPIVersion {
			list.APIResources = append(list.APIResources, metav1.APIResource{Name: "gatewayclasses", Kind: "GatewayClass"})
		}
		d.Resources = append(d.Resources, list)
	}
	return d
}

func newTestApplier(t *testing.T, objs ...runtime.Object) (*Applier, *dynamicfake.FakeDynamicClient) {
	t.Helper()
	client := newFakeCluster(t, NetworkingV1, objs...)
	a, err := Connect(client, fakeDiscovery(NetworkingV1, NetworkingV1beta1))
	if err != nil {
		t.Fatal(err)
	}
	return a, client
}

// object builds an unstructured object for seeding the fake.
func object(apiVersion, kind, ns, name string, labels, annotations map[string]string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetLabels(labels)
	u.SetAnnotations(annotations)
	u.SetResourceVersion("1")
	if spec != nil {
		u.Object["spec"] = spec
	}
	return u
}
