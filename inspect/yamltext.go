package inspect

import (
	"fmt"
	"unicode/utf8"
)

// yamlReadableJSON escapes, in JSON text, the characters encoding/json leaves raw but YAML's
// reader refuses (DEL, the C1 controls, U+FFFE and U+FFFF), so a report that carries odd proxy
// output (a host, a cluster name, an error quoting the input) still prints as YAML, with the
// same strings. JSON's syntax is ASCII, so only string contents are touched.
func yamlReadableJSON(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == 0x7f || r >= 0x80 && r <= 0x9f || r == 0xfffe || r == 0xffff {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return out
}
