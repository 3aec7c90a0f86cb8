package plugin

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kfed-dev/kfed/pkg/aggregate"
)

// object returns what a member serves for an object, managedFields
// included, as the API server sends it.
func object(apiVersion, kind, ns, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetResourceVersion("42")
	u.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "kubectl-fed", Operation: metav1.ManagedFieldsOperationApply}})
	return u
}

func objectAnswers() []*aggregate.Answer {
	dep := func(replicas int64) runtime.Object {
		return object("apps/v1", "Deployment", "shop", "web", map[string]any{"replicas": replicas})
	}
	return []*aggregate.Answer{
		answer("usa", info(deployments, dep(5))),
		answer("eur", info(deployments, dep(5))),
	}
}

func TestGetYAML(t *testing.T) {
	o, out, _ := newTestGetOptions(t, []string{"deploy", "web"}, "-o", "yaml")
	if err := o.print(objectAnswers(), nil, nil); err != nil {
		t.Fatal(err)
	}
	golden(t, "get/deployment.yaml", out.Bytes())
}

func TestGetJSONOneObjectIsAList(t *testing.T) {
	o, out, _ := newTestGetOptions(t, []string{"deploy/web"}, "-o", "json")
	if err := o.print(objectAnswers()[:1], nil, nil); err != nil {
		t.Fatal(err)
	}
	golden(t, "get/deployment-one.json", out.Bytes())
}

func TestGetName(t *testing.T) {
	answers := append(objectAnswers(),
		answer("jpn",
			info(deployments, object("apps/v1", "Deployment", "shop", "api", nil)),
			info(pods, object("v1", "Pod", "shop", "web-7d4b9-xk2lp", nil))))
	o, out, _ := newTestGetOptions(t, []string{"deploy,pods"}, "-o", "name")
	if err := o.print(answers, nil, nil); err != nil {
		t.Fatal(err)
	}
	golden(t, "get/names.txt", out.Bytes())
}
