package inspect

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
)

// adminReader reads one admin output in JSON: decoded into M by unmarshal, then read by read.
func adminReader[R, M any, P interface {
	*M
	proto.Message
}](unmarshal func([]byte, proto.Message) error, read func(P) R) func([]byte) (R, error) {
	return func(b []byte) (R, error) {
		m := P(new(M))
		if err := unmarshal(b, m); err != nil {
			var zero R
			return zero, err
		}
		return read(m), nil
	}
}

// maskedReading is one admin output's two readings: by protojson, the reference, and by the
// masked decoder, which must give the same.
type maskedReading[R any] struct{ protojson, masked func([]byte) (R, error) }

var (
	hostsReading      = maskedReading[[]HostStatus]{adminReader(jsonOptions.Unmarshal, hostStatusesOf), adminReader(unmarshalMasked, hostStatusesOf)}
	serverInfoReading = maskedReading[ServerInfo]{adminReader(jsonOptions.Unmarshal, serverInfoOf), adminReader(unmarshalMasked, serverInfoOf)}
)

// diff compares the masked decoder's reading of b with protojson's: "" when they agree or when the
// masked decoder leaves b to protojson.
func (r maskedReading[R]) diff(b []byte) string {
	got, err := r.masked(b)
	if err != nil {
		return ""
	}
	want, err := r.protojson(b)
	if err != nil {
		return "the masked decoder read what protojson refuses: " + err.Error()
	}
	if d := cmp.Diff(want, got); d != "" {
		return "masked (+) differs from protojson (-):\n" + d
	}
	return ""
}

// check runs a subtest that holds the masked decoder to protojson on b, which it must decide;
// false, and no subtest, when protojson refuses b too.
func (r maskedReading[R]) check(t *testing.T, name string, b []byte) bool {
	if _, err := r.protojson(b); err != nil {
		return false
	}
	t.Run(name, func(t *testing.T) {
		if _, err := r.masked(b); err != nil {
			t.Fatalf("left to protojson: %v", err)
		}
		if d := r.diff(b); d != "" {
			t.Error(d)
		}
	})
	return true
}

// Every /clusters?format=json and /server_info we hold (the real captures, the fuzz seeds) reads
// alike by the masked decoder and by protojson, and none is left to protojson.
func TestMaskedAdminOutputsMatchProtojson(t *testing.T) {
	inputs := map[string][]byte{
		"clusters seed": []byte(clustersSeedJSON), "server_info seed": []byte(serverInfoSeed),
		"clusters camelCase": []byte(`{"clusterStatuses":[{"name":"PassthroughCluster","hostStatuses":[{"address":{"socketAddress":{"address":"93.184.216.34","portValue":443}},"stats":[{"name":"cx_total","value":"5"}],"healthStatus":{"edsHealthStatus":"DEGRADED"}}]},{"name":"x","hostStatuses":[{"address":{"pipe":{"path":"/p"}},"healthStatus":{"pendingDynamicRemoval":true}}]}]}`),
	}
	err := filepath.WalkDir("../fixtures", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		inputs[path], err = os.ReadFile(path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	found := map[Kind]int{}
	for path, b := range inputs {
		if len(b) == 0 || b[0] != '{' {
			continue
		}
		switch k := DetectKind(b); k {
		case KindClusters:
			if hostsReading.check(t, path, b) {
				found[k]++
			}
		case KindServerInfo:
			if serverInfoReading.check(t, path, b) {
				found[k]++
			}
		}
	}
	if found[KindClusters] < 3 || found[KindServerInfo] < 1 {
		t.Errorf("found %d /clusters and %d server_info outputs among the fixtures", found[KindClusters], found[KindServerInfo])
	}
}
