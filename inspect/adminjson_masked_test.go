package inspect

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	adminv3 "github.com/envoyproxy/go-control-plane/envoy/admin/v3"
	"github.com/google/go-cmp/cmp"
)

// protojsonHosts and protojsonServerInfo are the readings of protojson, which the masked decoder
// must give too.
func protojsonHosts(b []byte) ([]HostStatus, error) {
	var cs adminv3.Clusters
	if err := jsonOptions.Unmarshal(b, &cs); err != nil {
		return nil, err
	}
	return hostStatusesOf(&cs), nil
}

func protojsonServerInfo(b []byte) (ServerInfo, error) {
	var si adminv3.ServerInfo
	if err := jsonOptions.Unmarshal(b, &si); err != nil {
		return ServerInfo{}, err
	}
	return serverInfoOf(&si), nil
}

func maskedHosts(b []byte) ([]HostStatus, error) {
	var cs adminv3.Clusters
	if err := unmarshalMasked(b, &cs); err != nil {
		return nil, err
	}
	return hostStatusesOf(&cs), nil
}

func maskedServerInfo(b []byte) (ServerInfo, error) {
	var si adminv3.ServerInfo
	if err := unmarshalMasked(b, &si); err != nil {
		return ServerInfo{}, err
	}
	return serverInfoOf(&si), nil
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
		switch DetectKind(b) {
		case KindClusters:
			want, err := protojsonHosts(b)
			if err != nil {
				continue // protojson refuses it too
			}
			found[KindClusters]++
			t.Run(path, func(t *testing.T) {
				got, err := maskedHosts(b)
				if err != nil {
					t.Fatalf("left to protojson: %v", err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("masked (+) differs from protojson (-):\n%s", diff)
				}
			})
		case KindServerInfo:
			want, err := protojsonServerInfo(b)
			if err != nil {
				continue
			}
			found[KindServerInfo]++
			t.Run(path, func(t *testing.T) {
				got, err := maskedServerInfo(b)
				if err != nil {
					t.Fatalf("left to protojson: %v", err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("masked (+) differs from protojson (-):\n%s", diff)
				}
			})
		}
	}
	if found[KindClusters] < 3 || found[KindServerInfo] < 1 {
		t.Errorf("found %d /clusters and %d server_info outputs among the fixtures", found[KindClusters], found[KindServerInfo])
	}
}
