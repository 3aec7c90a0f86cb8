package plugin

import (
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kfed-dev/kfed/pkg/aggregate"
)

func TestGetMemberFailures(t *testing.T) {
	o, out, errOut := newTestGetOptions(t, []string{"deployments"})
	answers := webDeployments(t)[1:] // jpn and eur answer
	failed := []error{
		&aggregate.ClusterError{Cluster: "usa", Err: refused("https://127.0.0.1:40001")},
		&aggregate.ClusterError{Cluster: "bra", Err: apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "", errors.New(`User "system:serviceaccount:kfed-system:kfed-manager" cannot list resource "deployments"`))},
	}
	err := o.print(answers, failed, nil)
	golden(t, "get/members-failed.txt", out.Bytes())
	want := `error: cluster bra: deployments.apps is forbidden: User "system:serviceaccount:kfed-system:kfed-manager" cannot list resource "deployments"
error: cluster usa: Get "https://127.0.0.1:40001/api?timeout=10s": connection refused`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
	if errOut.Len() > 0 {
		t.Errorf("stderr: %s", errOut)
	}
}

func notFound(name string) error {
	return apierrors.NewNotFound(schema.GroupResource{Group: "apps", Resource: "deployments"}, name)
}

func TestGetNamedObjectInSomeMembers(t *testing.T) {
	o, out, errOut := newTestGetOptions(t, []string{"deployments", "web"})
	answers := webDeployments(t)
	answers[1].Infos = nil
	answers[1].NotFound = []error{notFound("web")}
	if err := o.print(answers, nil, nil); err != nil {
		t.Errorf("an object missing from one member is not an error: %v", err)
	}
	if !strings.Contains(out.String(), "eur") || strings.Contains(out.String(), "jpn") {
		t.Errorf("output:\n%s", out)
	}
	if errOut.Len() > 0 {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestGetNamedObjectNowhere(t *testing.T) {
	missing := func() []*aggregate.Answer {
		return []*aggregate.Answer{
			{Cluster: "usa", NotFound: []error{notFound("shop")}},
			{Cluster: "eur", NotFound: []error{notFound("shop")}},
		}
	}
	o, out, errOut := newTestGetOptions(t, []string{"deployments", "shop"})
	err := o.print(missing(), nil, nil)
	if want := `error: deployments.apps "shop" not found in any cluster`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	if out.Len()+errOut.Len() > 0 {
		t.Errorf("stdout %q, stderr %q", out, errOut)
	}

	// The members that could not be read might have it.
	failed := []error{&aggregate.ClusterError{Cluster: "jpn", Err: refused("https://127.0.0.1:40003")}}
	err = o.print(missing(), failed, nil)
	want := `error: cluster jpn: Get "https://127.0.0.1:40003/api?timeout=10s": connection refused
error: deployments.apps "shop" not found in eur, usa, and the other clusters could not be read`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}

	o, out, errOut = newTestGetOptions(t, []string{"deployments", "shop"}, "--ignore-not-found")
	if err := o.print(missing(), nil, nil); err != nil {
		t.Errorf("--ignore-not-found: %v", err)
	}
	if out.Len()+errOut.Len() > 0 {
		t.Errorf("--ignore-not-found: stdout %q, stderr %q", out, errOut)
	}
}

func TestGetNoResources(t *testing.T) {
	empty := func() []*aggregate.Answer {
		return []*aggregate.Answer{answer("usa", info(pods, serverTable(t, podColumns)))}
	}
	o, out, errOut := newTestGetOptions(t, []string{"pods"})
	if err := o.print(empty(), nil, nil); err != nil {
		t.Fatal(err)
	}
	if out.Len() > 0 || errOut.String() != "No resources found in shop namespace.\n" {
		t.Errorf("stdout %q, stderr %q", out, errOut)
	}
	o, _, errOut = newTestGetOptions(t, []string{"pods"}, "-A")
	if err := o.print(empty(), nil, nil); err != nil {
		t.Fatal(err)
	}
	if errOut.String() != "No resources found\n" {
		t.Errorf("-A: stderr %q", errOut)
	}
}
