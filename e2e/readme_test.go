//go:build e2e

package e2e

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite the README's example outputs from the local mesh")

// exampleRE finds the README's runnable examples: a marker comment (optionally with the exit
// code the command is expected to end with), then a console block whose first line is "$ CMD".
var exampleRE = regexp.MustCompile("(?s)<!-- example(?: exit=(\\d+))? -->\n```console\n\\$ ([^\n]+)\n(.*?)```")

// Every example in the README runs as written on the local mesh and ends as documented;
// `go test -tags e2e ./e2e -run TestReadmeExamples -update-readme` writes their real output.
func TestReadmeExamples(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	examples := exampleRE.FindAllSubmatchIndex(readme, -1)
	if len(examples) < 5 {
		t.Fatalf("found %d examples in README.md; the markers may be broken", len(examples))
	}
	var out bytes.Buffer
	last := 0
	for _, m := range examples {
		wantExit := 0
		if m[2] >= 0 {
			wantExit, _ = strconv.Atoi(string(readme[m[2]:m[3]]))
		}
		command := string(readme[m[4]:m[5]])
		cmd := exec.Command("sh", "-c", command)
		cmd.Dir = ".."
		combined, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != wantExit {
			t.Errorf("README example %q: exit %d, want %d\n%s", command, code, wantExit, combined)
		}
		out.Write(readme[last:m[6]])
		out.Write(combined)
		last = m[7]
	}
	out.Write(readme[last:])
	if *updateReadme {
		if err := os.WriteFile("../README.md", out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(os.Stderr, "README.md: %d examples updated\n", len(examples))
	}
}
