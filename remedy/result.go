package remedy

import "fmt"

// DryRun is kubectl's --dry-run: none sends, server sends with dryRun=All, client sends nothing.
type DryRun string

const (
	DryRunNone   DryRun = "none"
	DryRunClient DryRun = "client"
	DryRunServer DryRun = "server"
)

// ParseDryRun reads a --dry-run value; "" is none.
func ParseDryRun(s string) (DryRun, error) {
	switch DryRun(s) {
	case "", DryRunNone:
		return DryRunNone, nil
	case DryRunClient, DryRunServer:
		return DryRun(s), nil
	}
	return "", fmt.Errorf(`invalid dry-run value %q: must be "none", "server", or "client"`, s)
}

// Actions, in kubectl's words.
const (
	ActionCreated    = "created"
	ActionConfigured = "configured"
	ActionUnchanged  = "unchanged"
	ActionDeleted    = "deleted"
	// ActionKept is a waypoint an undo leaves because ServiceEntries still use it.
	ActionKept = "kept (still used by other ServiceEntries)"
)

// Result is what happened to one object.
type Result struct {
	// Group is the kind's API group; "" is the first kind of that name (Istio's).
	Group                 string
	Kind, Namespace, Name string
	Action                string
	DryRun                DryRun
}

// String is kubectl's result line: "serviceentry.networking.istio.io/egress-httpbin-org created".
func (r Result) String() string {
	s := Ref(r.Group, r.Kind, r.Name) + " " + r.Action
	switch r.DryRun {
	case DryRunClient:
		s += " (dry run)"
	case DryRunServer:
		s += " (server dry run)"
	}
	return s
}
