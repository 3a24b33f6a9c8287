// Package jsonschema checks documents against the small subset of JSON Schema that the
// report schema (inspect/testdata/report.schema.json) uses; tests use it to hold the plugin's
// JSON output to its documented contract.
package jsonschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Schema is the subset of JSON Schema (2020-12) the report schema uses: $ref to $defs, type,
// enum, required, properties, additionalProperties, items, minimum, maximum, minLength and
// format date-time.
type Schema struct {
	Ref                  string             `json:"$ref"`
	Type                 json.RawMessage    `json:"type"`
	Enum                 []any              `json:"enum"`
	Required             []string           `json:"required"`
	Properties           map[string]*Schema `json:"properties"`
	AdditionalProperties json.RawMessage    `json:"additionalProperties"`
	Items                *Schema            `json:"items"`
	Minimum              *float64           `json:"minimum"`
	Maximum              *float64           `json:"maximum"`
	MinLength            *int               `json:"minLength"`
	Format               string             `json:"format"`
	Defs                 map[string]*Schema `json:"$defs"`
}

type validator struct {
	defs map[string]*Schema
	errs []string
}

// Parse reads a schema.
func Parse(b []byte) (*Schema, error) {
	var s Schema
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("invalid JSON Schema: %w", err)
	}
	return &s, nil
}

// Validate checks a decoded JSON document against the schema and returns every violation,
// each as "PATH: problem".
func (s *Schema) Validate(doc any) []string {
	v := &validator{defs: s.Defs}
	v.check(s, doc, "$")
	return v.errs
}

func (v *validator) fail(path, format string, args ...any) {
	v.errs = append(v.errs, path+": "+fmt.Sprintf(format, args...))
}

func jsonType(x any) string {
	switch x := x.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if x == math.Trunc(x) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

func (v *validator) check(s *Schema, x any, path string) {
	if s.Ref != "" {
		def, ok := v.defs[strings.TrimPrefix(s.Ref, "#/$defs/")]
		if !ok {
			v.fail(path, "unknown $ref %s", s.Ref)
			return
		}
		v.check(def, x, path)
		return
	}
	if len(s.Type) > 0 {
		var types []string
		if err := json.Unmarshal(s.Type, &types); err != nil {
			var one string
			_ = json.Unmarshal(s.Type, &one)
			types = []string{one}
		}
		got := jsonType(x)
		if !slices.Contains(types, got) && !(got == "integer" && slices.Contains(types, "number")) {
			v.fail(path, "type %s, want %v", got, types)
			return
		}
	}
	if s.Enum != nil && !slices.ContainsFunc(s.Enum, func(e any) bool { return e == x }) {
		v.fail(path, "%v not in %v", x, s.Enum)
	}
	switch x := x.(type) {
	case string:
		if s.MinLength != nil && len(x) < *s.MinLength {
			v.fail(path, "shorter than %d", *s.MinLength)
		}
		if s.Format == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
				v.fail(path, "not a date-time: %q", x)
			}
		}
	case float64:
		if s.Minimum != nil && x < *s.Minimum || s.Maximum != nil && x > *s.Maximum {
			v.fail(path, "%v out of range", x)
		}
	case []any:
		if s.Items != nil {
			for i, e := range x {
				v.check(s.Items, e, fmt.Sprintf("%s[%d]", path, i))
			}
		}
	case map[string]any:
		for _, r := range s.Required {
			if _, ok := x[r]; !ok {
				v.fail(path, "missing required %q", r)
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p, ok := s.Properties[k]; ok {
				v.check(p, x[k], path+"."+k)
				continue
			}
			switch ap := bytes.TrimSpace(s.AdditionalProperties); {
			case string(ap) == "false":
				v.fail(path, "unexpected property %q", k)
			case len(ap) > 0 && ap[0] == '{':
				var sub Schema
				_ = json.Unmarshal(ap, &sub)
				v.check(&sub, x[k], path+"."+k)
			}
		}
	}
}
