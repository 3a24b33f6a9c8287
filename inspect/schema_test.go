package inspect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// schemaNode is the subset of JSON Schema that testdata/report.schema.json uses.
type schemaNode struct {
	Ref                  string                 `json:"$ref"`
	Type                 json.RawMessage        `json:"type"`
	Enum                 []any                  `json:"enum"`
	Required             []string               `json:"required"`
	Properties           map[string]*schemaNode `json:"properties"`
	AdditionalProperties json.RawMessage        `json:"additionalProperties"`
	Items                *schemaNode            `json:"items"`
	Minimum              *float64               `json:"minimum"`
	Maximum              *float64               `json:"maximum"`
	MinLength            *int                   `json:"minLength"`
	Format               string                 `json:"format"`
	Defs                 map[string]*schemaNode `json:"$defs"`
}

type validator struct {
	defs map[string]*schemaNode
	errs []string
}

func loadSchema(t testing.TB) *schemaNode {
	t.Helper()
	var s schemaNode
	if err := json.Unmarshal(readFile(t, "testdata/report.schema.json"), &s); err != nil {
		t.Fatalf("schema: %v", err)
	}
	return &s
}

// validate checks a decoded JSON document against the schema and returns every violation.
func validate(s *schemaNode, doc any) []string {
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

func (v *validator) check(s *schemaNode, x any, path string) {
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
				var sub schemaNode
				_ = json.Unmarshal(ap, &sub)
				v.check(&sub, x[k], path+"."+k)
			}
		}
	}
}

func TestReportMatchesSchema(t *testing.T) {
	s := loadSchema(t)
	var buf bytes.Buffer
	if err := PrintReport(&buf, goldenReport(t), FormatJSON); err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if errs := validate(s, doc); len(errs) > 0 {
		t.Errorf("report does not match testdata/report.schema.json:\n%s", strings.Join(errs, "\n"))
	}
	var empty bytes.Buffer
	if err := PrintReport(&empty, Aggregate(nil), FormatJSON); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(empty.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if errs := validate(s, doc); len(errs) > 0 {
		t.Errorf("empty report does not match the schema:\n%s", strings.Join(errs, "\n"))
	}
}

// TestSchemaRejects proves the validator can fail: each broken document must be rejected.
func TestSchemaRejects(t *testing.T) {
	s := loadSchema(t)
	var buf bytes.Buffer
	if err := PrintReport(&buf, goldenReport(t), FormatJSON); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(map[string]any)
		want   string
	}{
		{"missing destinations", func(m map[string]any) { delete(m, "destinations") }, `missing required "destinations"`},
		{"unknown disposition", func(m map[string]any) { dest(m)["disposition"] = "allowed" }, "not in"},
		{"port as string", func(m map[string]any) { dest(m)["port"] = "443" }, "type string"},
		{"missing recommendation fix", func(m map[string]any) { delete(dest(m)["recommendation"].(map[string]any), "fix") }, `missing required "fix"`},
		{"extra field", func(m map[string]any) { dest(m)["color"] = "red" }, `unexpected property "color"`},
		{"bad time", func(m map[string]any) { m["generatedAt"] = "yesterday" }, "not a date-time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			tt.mutate(doc)
			errs := validate(s, doc)
			if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, tt.want) }) {
				t.Errorf("errors %q do not contain %q", errs, tt.want)
			}
		})
	}
}

func dest(m map[string]any) map[string]any {
	return m["destinations"].([]any)[0].(map[string]any)
}
