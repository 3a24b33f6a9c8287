package remedy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Expected outputs were produced by GNU diff -u on the same inputs.
func TestUnifiedDiff(t *testing.T) {
	letters := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\nn\n"
	tests := []struct {
		name, from, to, want string
	}{
		{"equal", letters, letters, ""},
		{"two hunks", letters, "b\nc\nd\nE\ne\nf\ng\nh\ni\nj\nk\nL\nm\nn\no\n", `--- x
+++ y
@@ -1,7 +1,7 @@
-a
 b
 c
 d
+E
 e
 f
 g
@@ -9,6 +9,7 @@
 i
 j
 k
-l
+L
 m
 n
+o
`},
		{"created", "", "a\nb\n", "--- x\n+++ y\n@@ -0,0 +1,2 @@\n+a\n+b\n"},
		{"deleted", "a\nb\n", "", "--- x\n+++ y\n@@ -1,2 +0,0 @@\n-a\n-b\n"},
		{"one line", "a\n", "b\n", "--- x\n+++ y\n@@ -1 +1 @@\n-a\n+b\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, UnifiedDiff("x", "y", tc.from, tc.to)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnifiedDiffLongInputsStayOneHunkPerChange(t *testing.T) {
	var a []string
	for i := 0; i < 200; i++ {
		a = append(a, strings.Repeat("x", i%7)+"line")
	}
	from := strings.Join(a, "\n") + "\n"
	to := strings.Replace(from, "xxxline", "changed", 1)
	if got := strings.Count(UnifiedDiff("x", "y", from, to), "@@ -"); got != 1 {
		t.Errorf("%d hunks for one change", got)
	}
}
