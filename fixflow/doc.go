// Package fixflow is the one fix flow of kubectl-egress, callable without cobra:
//
//	observe → plan → guard → preview → confirm → apply → verify
//
//	f := fixflow.New(getter, cfg)                  // no I/O: cfg says namespace, dry run, -o yaml, who confirms…
//	obs := f.Observe(ctx)                          // reads the namespace's proxies once (inspect.Reader)
//	plans, refused, err := f.Plan(ctx, requests)   // reads what exists, then plans each request (pure)
//	err = f.Run(ctx, plans)                        // -o yaml, or preview, confirm, apply all or nothing, verify
//
// or f.Fix(ctx, requests), which observes only when the requests leave something for the
// proxies to tell (ports, protocols, callers, the Istio version), then plans and runs.
//
// Observation is explicit: nothing else reads a proxy. Planning is pure (PlanRequest): it turns
// a Request, what was observed and what exists into a remedy.Plan, running remedy's guards and
// Istio's validation. Confirmation is an interface (Confirmer): the commands give a terminal
// prompt, Yes for --yes, or nothing, which refuses. Applying is remedy.Applier.ApplyAll: all the
// plans' objects or none. Verification (Verifier) re-reads the proxies and judges them with
// inspect.Verify.
//
// fixflow imports inspect (reading, the report's vocabulary) and remedy (planning, applying);
// it never imports cobra or plugin, and it does no terminal I/O of its own: it writes to the
// io.Writers of its Config and asks its Confirmer.
package fixflow
