// Package warning prints the one kind of warning line kubectl-egress has, with kubectl's
// prefix: "Warning: " on stderr. A warning does not stop a run; an error ("error: ") does.
package warning

import (
	"fmt"
	"io"
)

// Prefix starts every warning line, as kubectl's own warnings start.
const Prefix = "Warning: "

// Printf writes one warning line to w.
func Printf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, Prefix+format+"\n", args...)
}
