package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/kfed-dev/kfed/test/lab"
)

func TestUpOptionsSpecs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    upOptions
		want    []lab.ClusterSpec
		wantErr string
	}{
		{
			name: "defaults",
			opts: upOptions{nodes: 3},
			want: []lab.ClusterSpec{
				{Name: "usa", Region: "us-east-1", Zone: "us-east-1a", Nodes: 3},
				{Name: "eur", Region: "eu-west-1", Zone: "eu-west-1a", Nodes: 3},
				{Name: "jpn", Region: "ap-northeast-1", Zone: "ap-northeast-1a", Nodes: 3},
			},
		},
		{
			name: "named clusters",
			opts: upOptions{clusters: []string{"a=us-east-1/us-east-1b", "b=eu-west-1/eu-west-1c"}, nodes: 1},
			want: []lab.ClusterSpec{
				{Name: "a", Region: "us-east-1", Zone: "us-east-1b", Nodes: 1},
				{Name: "b", Region: "eu-west-1", Zone: "eu-west-1c", Nodes: 1},
			},
		},
		{
			name: "count below the defaults",
			opts: upOptions{count: 1, nodes: 2},
			want: []lab.ClusterSpec{{Name: "usa", Region: "us-east-1", Zone: "us-east-1a", Nodes: 2}},
		},
		{
			name: "count above the defaults",
			opts: upOptions{count: 5, nodes: 1},
			want: []lab.ClusterSpec{
				{Name: "usa", Region: "us-east-1", Zone: "us-east-1a", Nodes: 1},
				{Name: "eur", Region: "eu-west-1", Zone: "eu-west-1a", Nodes: 1},
				{Name: "jpn", Region: "ap-northeast-1", Zone: "ap-northeast-1a", Nodes: 1},
				{Name: "c4", Region: "sa-east-1", Zone: "sa-east-1a", Nodes: 1},
				{Name: "c5", Region: "ca-central-1", Zone: "ca-central-1a", Nodes: 1},
			},
		},
		{name: "no zone", opts: upOptions{clusters: []string{"a=us-east-1"}}, wantErr: `"a=us-east-1" is not NAME=REGION/ZONE`},
		{name: "no name", opts: upOptions{clusters: []string{"=r/z"}}, wantErr: "is not NAME=REGION/ZONE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.opts.specs()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestUpOptionsArgsRoundTrip(t *testing.T) {
	in := upOptions{clusters: []string{"a=r1/z1", "b=r2/z2"}, count: 2, nodes: 4, minimal: true, bin: "/x"}
	cmd := newSuperviseCmd(new(string))
	if err := cmd.ParseFlags(in.args()); err != nil {
		t.Fatal(err)
	}
	// The supervisor must see exactly what up was given.
	out := upOptions{}
	out.clusters, _ = cmd.Flags().GetStringSlice("clusters")
	out.count, _ = cmd.Flags().GetInt("count")
	out.nodes, _ = cmd.Flags().GetInt("nodes")
	out.minimal, _ = cmd.Flags().GetBool("minimal")
	out.bin, _ = cmd.Flags().GetString("bin")
	in.timeout, out.timeout = 0, 0
	if !reflect.DeepEqual(in, out) {
		t.Errorf("supervisor flags %+v, want %+v", out, in)
	}
}
