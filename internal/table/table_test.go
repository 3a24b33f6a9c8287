package table

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name   string
		header []string
		rows   [][]string
		want   string
	}{
		{"empty prints nothing", []string{"A", "B"}, nil, ""},
		{
			"columns three spaces apart, no trailing blanks",
			[]string{"HOST", "PORT", "FIX"},
			[][]string{{"httpbin.org", "443", "tls-origination"}, {"a.io", "80", "-"}},
			"HOST          PORT   FIX\nhttpbin.org   443    tls-origination\na.io          80     -\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, tt.header, tt.rows); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, b.String()); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}
