package testenv

import "testing"

func TestClusterIDNeverLooksLikeAnOption(t *testing.T) {
	for range 10000 {
		if id := clusterID(); id[0] == '-' || len(id) != 22 {
			t.Fatalf("cluster id %q", id)
		}
	}
}
