package remedy

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/kubectl-egress/kubectl-egress/inspect"
)

// Metadata every object of a plan carries, so that List and Undo find only what this tool wrote.
const (
	// LabelManagedBy is the standard label marking the tool that owns an object.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is this tool's value for LabelManagedBy.
	ManagedByValue = "kubectl-egress"
	// AnnotationHost records the external host a managed object is about.
	AnnotationHost = "egress.kubectl.io/host"
	// AnnotationFix records which fix wrote a managed object.
	AnnotationFix = "egress.kubectl.io/fix"
	// AnnotationAliasOf records, on an alias's ServiceEntry, the real host the alias stands for.
	AnnotationAliasOf = "egress.kubectl.io/alias-of"

	// FieldManager is the server-side apply field manager of every write.
	FieldManager = "kubectl-egress"

	namePrefix = "egress-"
	maxNameLen = 63
	hashLen    = 8
)

// ObjectName is the deterministic object name for host: "egress-" plus the host made DNS-1123
// ("httpbin.org" → "egress-httpbin-org", "*.example.com" → "egress-wildcard-example-com"), then
// suffix ("-gw") when given. Names longer than 63 characters are cut and end in a hash of the
// full name, so two long hosts sharing a prefix still get different names.
func ObjectName(host, suffix string) string {
	return dns1123(namePrefix+hostLabel(host), suffix)
}

// hostLabel is host as a DNS-1123 label fragment, wildcards spelled out.
func hostLabel(host string) string {
	h := strings.ToLower(strings.TrimSpace(host))
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		h = "wildcard." + rest
	} else if h == "*" {
		h = "wildcard"
	}
	var b strings.Builder
	dash := false
	for _, r := range h {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// dns1123 joins base and suffix, keeping the result a DNS-1123 label of at most 63 characters.
func dns1123(base, suffix string) string {
	full := base + suffix
	if len(full) <= maxNameLen {
		return full
	}
	sum := sha256.Sum256([]byte(full))
	tail := "-" + hex.EncodeToString(sum[:])[:hashLen] + suffix
	head := strings.TrimRight(base[:maxNameLen-len(tail)], "-")
	return head + tail
}

// subsetName names the egress gateway DestinationRule subset for host; it must be unique per host
// because DestinationRules for the same gateway service are merged by istiod.
func subsetName(host string) string {
	return dns1123(hostLabel(host), "")
}

func managedLabels() map[string]string {
	return map[string]string{LabelManagedBy: ManagedByValue}
}

func managedAnnotations(host string, fix inspect.Fix) map[string]string {
	a := map[string]string{AnnotationFix: string(fix)}
	if host != "" {
		a[AnnotationHost] = host // a lockdown or logging object is about no one host
	}
	return a
}

// isManaged tells whether labels mark an object as written by this tool.
func isManaged(labels map[string]string) bool {
	return labels[LabelManagedBy] == ManagedByValue
}
