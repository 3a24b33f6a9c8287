package remedy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/dynamic"
)

// rollbackTimeout bounds a rollback, retries included: long enough to outlast an API server
// restart, short enough that an interrupted user is not kept waiting.
var rollbackTimeout = 30 * time.Second

// interrupted is the cause of a rollback after Ctrl-C or SIGTERM.
func interrupted(when string, u *unstructured.Unstructured) error {
	return fmt.Errorf("interrupted %s %s in namespace %s", when, refOf(u), u.GetNamespace())
}

// rollback undoes done in reverse order and returns cause with what was rolled back, or left
// behind when the rollback itself failed.
//
// It runs on a context that survives the caller's cancellation (an interrupt is a reason to roll
// back, not to stop rolling back), bounded by rollbackTimeout, and retries what fails because
// the API server is briefly away.
func (a *Applier) rollback(ctx context.Context, done []applied, cause error) error {
	if len(done) == 0 {
		return fmt.Errorf("%w; nothing was changed", cause)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	var undone, left, toDelete []string
	for i := len(done) - 1; i >= 0; i-- {
		d := done[i]
		ref := refOf(d.obj)
		res := a.client.Resource(d.gvr).Namespace(d.obj.GetNamespace())
		if d.previous == nil {
			gone := false
			err := retryTransient(ctx, func() error {
				err := res.Delete(ctx, d.obj.GetName(), metav1.DeleteOptions{})
				if apierrors.IsNotFound(err) {
					gone = true
					return nil
				}
				return err
			})
			if err != nil {
				left = append(left, fmt.Sprintf("%s (delete failed: %v)", ref, err))
				toDelete = append(toDelete, ref)
				continue
			}
			if !gone || !d.inFlight { // an interrupted apply that never landed was not rolled back
				undone = append(undone, ref+" deleted")
			}
			continue
		}
		if err := retryTransient(ctx, func() error { return restore(ctx, res, d.previous) }); err != nil {
			left = append(left, fmt.Sprintf("%s (restore failed: %v)", ref, err))
			continue
		}
		undone = append(undone, ref+" restored")
	}
	msg := fmt.Sprintf("%v; rolled back: %s", cause, strings.Join(undone, ", "))
	if len(undone) == 0 {
		msg = cause.Error()
		if len(left) == 0 {
			msg += "; nothing was changed"
		}
	}
	if len(left) > 0 {
		msg += "; rollback failed, left behind: " + strings.Join(left, ", ")
		if len(toDelete) > 0 {
			msg += "; once the API server answers, delete them: kubectl delete -n " + done[0].obj.GetNamespace() + " " + strings.Join(toDelete, " ")
		}
	}
	return errors.New(msg)
}

// retryTransient runs op until it succeeds, fails for a reason a retry cannot change, or ctx
// ends. Transient is what an API server restarting or overloaded answers.
func retryTransient(ctx context.Context, op func() error) error {
	wait := 100 * time.Millisecond
	for {
		err := op()
		if err == nil || !transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

func transient(err error) bool {
	return utilnet.IsConnectionRefused(err) || utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) ||
		apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err)
}

// restore puts previous back as it was before the apply.
func restore(ctx context.Context, res dynamic.ResourceInterface, previous *unstructured.Unstructured) error {
	live, err := res.Get(ctx, previous.GetName(), metav1.GetOptions{})
	if err != nil {
		return err
	}
	back := previous.DeepCopy()
	back.SetManagedFields(nil)
	back.SetResourceVersion(live.GetResourceVersion())
	_, err = res.Update(ctx, back, metav1.UpdateOptions{FieldManager: FieldManager})
	return err
}
