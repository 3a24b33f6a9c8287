package fixflow

import (
	"context"

	"github.com/kubectl-egress/kubectl-egress/remedy"
)

// LoggingOn plans and runs the Telemetry that logs the namespace's passthrough and blocked
// traffic only (remedy.PlanLogging): inspect can then name TLS hosts by their SNI.
func (f *Flow) LoggingOn(ctx context.Context) error {
	if err := f.connect(); err != nil {
		return err
	}
	ex, err := f.existingObjects(ctx)
	if err != nil {
		return err
	}
	p, err := remedy.PlanLogging(f.target(), ex)
	if err != nil {
		return err
	}
	return f.Run(ctx, []*remedy.Plan{p})
}
