package plugin

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func TestUndoOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(o *UndoOptions)
		want string
	}{
		{"host", func(o *UndoOptions) { o.Host = "httpbin.org" }, ""},
		{"all", func(o *UndoOptions) { o.All = true }, ""},
		{"neither", func(*UndoOptions) {}, "name the host to undo, or pass --lockdown or --all"},
		{"both", func(o *UndoOptions) { o.Host, o.All = "httpbin.org", true }, "a host, --lockdown and --all do not go together: pick one"},
		{"dry run", func(o *UndoOptions) { o.All, o.DryRun = true, "yes" }, `invalid dry-run value "yes": must be "none", "server", or "client"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewUndoOptions(genericclioptions.NewConfigFlags(false), genericiooptions.NewTestIOStreamsDiscard())
			tt.edit(o)
			if diff := cmp.Diff(tt.want, errString(o.Validate())); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}
