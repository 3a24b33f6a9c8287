package inspect

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

// Pods that failed to read because a rollout took them away are skipped; a pod that failed and
// is still there, or was read whole, stays in the reading.
func TestDropDeleted(t *testing.T) {
	pod := func(name, uid string, deleting bool) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, UID: k8stypes.UID(uid)}}
		if deleting {
			now := metav1.Now()
			p.DeletionTimestamp = &now
		}
		return p
	}
	listed := []corev1.Pod{pod("gone", "1", false), pod("replaced", "2", false), pod("terminating", "3", false),
		pod("broken", "4", false), pod("fine", "5", false)}
	now := pod("replaced", "2b", false)
	term := pod("terminating", "3", true)
	broken, fine := pod("broken", "4", false), pod("fine", "5", false)
	client := fake.NewClientset(&now, &term, &broken, &fine)
	var reports []PodReport
	for _, p := range listed {
		rep := PodReport{Pod: PodOf(&p)}
		if p.Name != "fine" {
			rep.Errors = []string{"port-forward failed"}
		}
		reports = append(reports, rep)
	}
	kept, gone := dropDeleted(context.Background(), client, listed, reports)
	var keptNames []string
	for _, r := range kept {
		keptNames = append(keptNames, r.Pod.Name)
	}
	if diff := cmp.Diff([]string{"broken", "fine"}, keptNames); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
	want := map[string]string{
		"gone":        "deleted while it was being read",
		"replaced":    "deleted while it was being read",
		"terminating": "terminating (deleted while it was being read)",
	}
	got := map[string]string{}
	for _, s := range gone {
		got[s.Pod.Name] = s.Reason
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
}
