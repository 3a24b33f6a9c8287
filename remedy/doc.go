// Package remedy is the act side of kubectl-egress: it turns a host and a chosen fix into Istio
// objects, refuses fixes that would break traffic, and applies, previews, lists and undoes them.
//
// Planning is pure: a planner takes the host, its options and what already exists in the cluster
// (an Existing, which tests build by hand) and returns a Plan, after running the guards and Istio's
// own validation on every object. Only the Applier does I/O, through a dynamic client and discovery,
// so the same code runs against a fake in unit tests and a real API server end to end.
//
// The fix flow (package fixflow) calls, in order:
//
//	ap, err := remedy.Connect(dyn, disco)           // discovery: Istio CRDs present, which version
//	ex, err := ap.Existing(ctx, namespace)          // objects the guards compare against
//	plan, err := remedy.PlanTLSOrigination(target, opts, ex) // or PlanRegister, PlanEgressGateway
//	remedy.WriteYAML(out, plan)                     // -o yaml: stop here, nothing is sent
//	changes, err := ap.Preview(ctx, plan, force)    // each object's action and diff: a server-side dry run
//	results, err := ap.ApplyAll(ctx, plans, remedy.ApplyOptions{DryRun: d, Force: f}) // all or nothing
//	for _, r := range results { fmt.Fprintln(out, r) } // serviceentry.networking.istio.io/NAME created
//
// plan.Warnings go to stderr; plan.Notes are what the application owner must do next.
// For route-via-gateway, ap.EgressGateway(ctx, ns, name) reads the gateway Service and its pods
// first. ap.List and ap.Undo work on the objects labelled as managed by kubectl-egress only.
//
// remedy imports inspect for the report's vocabulary (inspect.Fix) only; it never imports
// fixflow, plugin or cobra.
package remedy
