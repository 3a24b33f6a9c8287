package inspect

import (
	"github.com/kubectl-egress/kubectl-egress/internal/jsonschema"

	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func loadSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	s, err := jsonschema.Parse(readFile(t, "testdata/report.schema.json"))
	if err != nil {
		t.Fatalf("schema: %v", err)
	}
	return s
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
	if errs := s.Validate(doc); len(errs) > 0 {
		t.Errorf("report does not match testdata/report.schema.json:\n%s", strings.Join(errs, "\n"))
	}
	var empty bytes.Buffer
	if err := PrintReport(&empty, Aggregate(nil), FormatJSON); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(empty.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if errs := s.Validate(doc); len(errs) > 0 {
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
			errs := s.Validate(doc)
			if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, tt.want) }) {
				t.Errorf("errors %q do not contain %q", errs, tt.want)
			}
		})
	}
}

func dest(m map[string]any) map[string]any {
	return m["destinations"].([]any)[0].(map[string]any)
}
