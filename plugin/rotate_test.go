package plugin

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kfed-dev/kfed/pkg/store"
)

func TestRotateFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // "" for valid
	}{
		{[]string{"eur"}, ""},
		{[]string{"--all", "--identity", "dns-host"}, ""},
		{[]string{"eur", "jpn", "--identity", "dns-reader", "--token-lifetime", "168h"}, ""},
		{nil, "name the members"},
		{[]string{"eur", "--all"}, "not both"},
		{[]string{"eur", "--identity", "coredns"}, "--identity must be"},
		{[]string{"eur", "--token-lifetime", "5m"}, "too short"},
	} {
		streams, _, _, _ := genericiooptions.NewTestIOStreams()
		cmd := NewCmdRotate(newHostFlags(nil), streams)
		if err := cmd.ParseFlags(tc.args); err != nil {
			t.Fatal(err)
		}
		o := NewRotateOptions(newHostFlags(nil), streams)
		o.All, _ = cmd.Flags().GetBool("all")
		o.Identity, _ = cmd.Flags().GetString("identity")
		o.TokenLifetime, _ = cmd.Flags().GetDuration("token-lifetime")
		err := o.Complete(cmd, cmd.Flags().Args())
		if err == nil {
			err = o.Validate(cmd)
		}
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("rotate %s: %v", strings.Join(tc.args, " "), err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("rotate %s: %v, want an error saying %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

func TestRefreshWarning(t *testing.T) {
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	info := store.TokenInfo{IssuedAt: now.Add(-25 * 24 * time.Hour), Expires: now.Add(5 * 24 * time.Hour)}
	got := refreshWarning("eur", "manager", info, now, errors.New("connection refused"))
	want := "Warning: the manager token of cluster eur expires in 5d (2026-12-05T08:00:00Z) and could not be refreshed: connection refused; run `kubectl fed rotate eur` once it can be reached"
	if got != want {
		t.Errorf("warning:\n%s\nwant\n%s", got, want)
	}
	info.Expires = now.Add(-time.Hour)
	if got := refreshWarning("eur", "dns-reader", info, now, errors.New("Unauthorized")); !strings.Contains(got, "expired 60m ago") || !strings.Contains(got, "join it again with --cluster-context") {
		t.Errorf("warning for an expired token: %s", got)
	}
}
