package membership

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestDNSReaderRules pins the reader's rights: get, list and watch on four
// resources, nothing else.
func TestDNSReaderRules(t *testing.T) {
	granted := map[string]bool{}
	for _, r := range DNSReaderRules() {
		if strings.Join(r.Verbs, ",") != "get,list,watch" {
			t.Errorf("rule %v grants %v", r.Resources, r.Verbs)
		}
		if len(r.ResourceNames) > 0 || len(r.NonResourceURLs) > 0 {
			t.Errorf("rule %+v is not a plain resource rule", r)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				granted[g+"/"+res] = true
			}
		}
	}
	want := []string{"/services", "/nodes", "/namespaces", "discovery.k8s.io/endpointslices"}
	if len(granted) != len(want) {
		t.Errorf("the reader is granted %v, want %v", granted, want)
	}
	for _, w := range want {
		if !granted[w] {
			t.Errorf("the reader is not granted %s", w)
		}
	}
}

// TestRollback checks the journal: last change undone first, NotFound
// counting as undone, transient failures retried until they pass, and
// refusals reported as what was left.
func TestRollback(t *testing.T) {
	var order []string
	transient := 2
	var j journal
	j.add("member", "namespace/kfed-system", func(context.Context) error { order = append(order, "ns"); return nil })
	j.add("member", "serviceaccount/kfed-manager", func(context.Context) error {
		order = append(order, "sa")
		if transient > 0 {
			transient--
			return errors.New("connection refused")
		}
		return nil
	})
	j.add("host", "secret/eur-manager-kubeconfig", func(context.Context) error {
		order = append(order, "secret")
		return apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, "eur-manager-kubeconfig")
	})
	j.add("host", "cluster.kfed.dev/eur", func(context.Context) error {
		order = append(order, "cluster")
		return apierrors.NewForbidden(schema.GroupResource{Group: "kfed.dev", Resource: "clusters"}, "eur", errors.New("no"))
	})
	left, errs := j.rollback(10 * time.Second)
	if got := strings.Join(order, ","); got != "cluster,secret,sa,sa,sa,ns" {
		t.Errorf("undo order = %s", got)
	}
	if len(left) != 1 || left[0].what != "cluster.kfed.dev/eur" || len(errs) != 1 {
		t.Fatalf("left = %v, errs = %v", left, errs)
	}
	msg := (&errRolledBack{cause: errors.New("boom"), left: left, errs: errs}).Error()
	if !strings.Contains(msg, "left behind in the host: cluster.kfed.dev/eur") {
		t.Errorf("the error does not say what was left: %s", msg)
	}
	if msg := (&errRolledBack{cause: errors.New("boom")}).Error(); msg != "boom; every change was rolled back" {
		t.Errorf("a clean rollback says %q", msg)
	}
}

// TestRollbackBudget checks that a side that never answers again costs at
// most the budget.
func TestRollbackBudget(t *testing.T) {
	var j journal
	j.add("member", "serviceaccount/kfed-manager", func(context.Context) error { return errors.New("connection refused") })
	begin := time.Now()
	left, _ := j.rollback(time.Second)
	if took := time.Since(begin); took > 3*time.Second {
		t.Errorf("rollback took %s with a budget of 1s", took)
	}
	if len(left) != 1 {
		t.Errorf("left = %v", left)
	}
}

func TestLabelPatch(t *testing.T) {
	p := labelPatch(map[string]string{"kubernetes.io/metadata.name": "kfed-system", "kfed.dev/federation": "other"})
	if p["kfed.dev/federation"] != "other" || p["kubernetes.io/metadata.name"] != "kfed-system" {
		t.Errorf("labelPatch lost a label: %v", p)
	}
	for _, k := range []string{"app.kubernetes.io/managed-by", "app.kubernetes.io/component", "kfed.dev/identity"} {
		if v, ok := p[k]; !ok || v != nil {
			t.Errorf("labelPatch does not remove %s: %v", k, p)
		}
	}
}
