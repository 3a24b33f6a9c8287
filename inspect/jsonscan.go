package inspect

import (
	"bytes"
	"errors"
	"iter"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonScanner reads JSON from a byte slice without building a tree: the masked config dump
// decoder (configdump_masked.go) pulls the few values the report reads and skips the rest,
// checking the syntax of what it skips. It is strict: anything unusual (a number in exponent
// form where an integer is due, an escaped surrogate…) stops it with errNotFast, and the dump is
// then decoded by protojson, which decides.
type jsonScanner struct {
	b     []byte
	i     int
	depth int
	err   error
	// buf holds the last unescaped string or key.
	buf []byte
}

// errNotFast says the masked decoder cannot decide a dump; protojson reads it instead.
var errNotFast = errors.New("not decodable by the masked decoder")

// maxJSONDepth is protojson's default recursion limit.
const maxJSONDepth = 10000

func (s *jsonScanner) fail() {
	if s.err == nil {
		s.err = errNotFast
	}
	// Stop every loop: all reads see the end of input from here on.
	s.i = len(s.b)
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek is the next non-space byte, 0 at the end.
func (s *jsonScanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

func (s *jsonScanner) expect(c byte) bool {
	if s.peek() != c {
		s.fail()
		return false
	}
	s.i++
	return true
}

// null consumes a null if one is next.
func (s *jsonScanner) null() bool {
	if s.peek() == 'n' {
		s.literal("null")
		return true
	}
	return false
}

func (s *jsonScanner) literal(lit string) {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		s.fail()
		return
	}
	s.i += len(lit)
	s.delimited()
}

// delimited fails when a literal or number runs into a letter or digit ("nullx", "01").
func (s *jsonScanner) delimited() {
	if s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == '-', c == '+':
			s.fail()
		}
	}
}

func (s *jsonScanner) enter() bool {
	s.depth++
	if s.depth > maxJSONDepth {
		s.fail()
		return false
	}
	return true
}

// members iterates over an object's keys; the loop body must consume each value. The key is
// valid until the next read.
func (s *jsonScanner) members() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		if !s.expect('{') || !s.enter() {
			return
		}
		defer func() { s.depth-- }()
		if s.peek() == '}' {
			s.i++
			return
		}
		for s.err == nil {
			key := s.stringBytes()
			if !s.expect(':') || !yield(key) || s.err != nil {
				return
			}
			if !s.another('}') {
				return
			}
		}
	}
}

// elements iterates over an array; the loop body must consume each element.
func (s *jsonScanner) elements() iter.Seq[struct{}] {
	return func(yield func(struct{}) bool) {
		if !s.expect('[') || !s.enter() {
			return
		}
		defer func() { s.depth-- }()
		if s.peek() == ']' {
			s.i++
			return
		}
		for s.err == nil {
			if !yield(struct{}{}) || s.err != nil {
				return
			}
			if !s.another(']') {
				return
			}
		}
	}
}

// another consumes what follows a member or an element: true when another comes.
func (s *jsonScanner) another(closing byte) bool {
	switch s.peek() {
	case ',':
		s.i++
		return true
	case closing:
		s.i++
		return false
	}
	s.fail()
	return false
}

// stringBytes reads a string, unescaped; the bytes are valid until the next read.
func (s *jsonScanner) stringBytes() []byte {
	if !s.expect('"') {
		return nil
	}
	start := s.i
	q := bytes.IndexByte(s.b[start:], '"')
	if q < 0 {
		s.fail()
		return nil
	}
	out := s.b[start : start+q]
	if bytes.IndexByte(out, '\\') >= 0 {
		return s.escapedString(start)
	}
	ascii := true
	for _, c := range out {
		if c < 0x20 || c >= 0x80 {
			if c < 0x20 {
				s.fail()
				return nil
			}
			ascii = false
		}
	}
	if !ascii && !utf8.Valid(out) {
		s.fail()
		return nil
	}
	s.i = start + q + 1
	return out
}

// escapedString finishes a string that has escapes, from its first byte at start.
func (s *jsonScanner) escapedString(start int) []byte {
	s.buf = append(s.buf[:0], s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			if !utf8.Valid(s.buf) {
				s.fail()
				return nil
			}
			return s.buf
		case c < 0x20:
			s.fail()
			return nil
		case c != '\\':
			s.buf = append(s.buf, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			break
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			s.buf = append(s.buf, e)
		case 'b':
			s.buf = append(s.buf, '\b')
		case 'f':
			s.buf = append(s.buf, '\f')
		case 'n':
			s.buf = append(s.buf, '\n')
		case 'r':
			s.buf = append(s.buf, '\r')
		case 't':
			s.buf = append(s.buf, '\t')
		case 'u':
			if s.i+4 > len(s.b) {
				s.fail()
				return nil
			}
			r, err := strconv.ParseUint(string(s.b[s.i:s.i+4]), 16, 16)
			if err != nil || utf16.IsSurrogate(rune(r)) {
				// Surrogate pairs are rare in a dump; protojson judges them.
				s.fail()
				return nil
			}
			s.buf = utf8.AppendRune(s.buf, rune(r))
			s.i += 4
		default:
			s.fail()
			return nil
		}
	}
	s.fail()
	return nil
}

// number reads a JSON number and returns its text.
func (s *jsonScanner) number() []byte {
	s.ws()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		s.digits()
	default:
		s.fail()
		return nil
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			s.fail()
			return nil
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			s.fail()
			return nil
		}
	}
	s.delimited()
	return s.b[start:s.i]
}

func (s *jsonScanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

// skip consumes any one value, checking its syntax.
func (s *jsonScanner) skip() {
	switch s.peek() {
	case '{':
		for range s.members() {
			s.skip()
		}
	case '[':
		for range s.elements() {
			s.skip()
		}
	case '"':
		s.stringBytes()
	case 't':
		s.literal("true")
	case 'f':
		s.literal("false")
	case 'n':
		s.literal("null")
	default:
		s.number()
	}
}

// integer reads an integer written plainly, as a number or a string ("443"), within bits.
func (s *jsonScanner) integer(signed bool, bits int) (int64, uint64) {
	var text []byte
	if s.peek() == '"' {
		text = s.stringBytes()
	} else {
		text = s.number()
	}
	if s.err != nil || !plainInteger(text) {
		s.fail()
		return 0, 0
	}
	if signed {
		n, err := strconv.ParseInt(string(text), 10, bits)
		if err != nil {
			s.fail()
		}
		return n, 0
	}
	n, err := strconv.ParseUint(string(text), 10, bits)
	if err != nil {
		s.fail()
	}
	return 0, n
}

// plainInteger: -?(0|[1-9][0-9]*).
func plainInteger(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 || b[0] == '0' && len(b) > 1 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// end checks that nothing but space follows the value read.
func (s *jsonScanner) end() {
	if s.peek() != 0 || s.i < len(s.b) {
		s.fail()
	}
}
