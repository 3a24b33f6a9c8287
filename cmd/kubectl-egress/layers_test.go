package main

import (
	"go/build"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLayers holds the packages to docs/architecture.md: data flows one way, and cobra stays in
// plugin/. Each package's own imports (tests excluded) must avoid its forbidden list.
func TestLayers(t *testing.T) {
	const mod = "github.com/kubectl-egress/kubectl-egress/"
	const cobra = "github.com/spf13/cobra"
	forbidden := map[string][]string{
		"inspect":          {mod + "remedy", mod + "fixflow", mod + "plugin", cobra},
		"remedy":           {mod + "fixflow", mod + "plugin", cobra},
		"policy":           {mod + "remedy", mod + "fixflow", mod + "plugin", cobra},
		"fixflow":          {mod + "plugin", cobra},
		"internal/table":   {mod + "inspect", mod + "remedy", mod + "fixflow", mod + "plugin", cobra},
		"internal/version": {mod + "inspect", mod + "remedy", mod + "fixflow", mod + "plugin", cobra},
		"krew":             {mod + "inspect", mod + "remedy", mod + "fixflow", mod + "plugin", cobra},
	}
	for dir, bad := range forbidden {
		pkg, err := build.ImportDir(filepath.Join("..", "..", dir), 0)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, imp := range pkg.Imports {
			if slices.Contains(bad, imp) {
				t.Errorf("%s imports %s, which docs/architecture.md forbids", dir, strings.TrimPrefix(imp, mod))
			}
		}
	}
}
