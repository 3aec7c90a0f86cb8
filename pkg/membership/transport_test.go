package membership

import (
	"strings"
	"testing"
)

func TestCheckTransport(t *testing.T) {
	for _, tc := range []struct {
		server string
		skip   bool
		want   string
	}{
		{"https://203.0.113.10:6443", false, ""},
		{"http://127.0.0.1:1", false, "travel in clear"},
		{"https://203.0.113.10:6443", true, "insecure-skip-tls-verify"},
		{"not a url", false, "not a URL"},
	} {
		err := CheckTransport("--host-server", tc.server, tc.skip, "do better")
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.server, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s (skip %v): %v, want %q", tc.server, tc.skip, err, tc.want)
		}
	}
}
