package plugin

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kfed-dev/kfed/pkg/aggregate"
)

var secretMapping = &meta.RESTMapping{
	Resource:         schema.GroupVersionResource{Version: "v1", Resource: "secrets"},
	GroupVersionKind: schema.GroupVersionKind{Version: "v1", Kind: "Secret"},
	Scope:            meta.RESTScopeNamespace,
}

// secretAnswers returns a Secret in two members, with a password in data
// and a kubectl-applied copy of it in the last-applied annotation.
func secretAnswers() []*aggregate.Answer {
	var answers []*aggregate.Answer
	for _, cluster := range []string{"usa", "eur"} {
		u := object("v1", "Secret", "shop", "db", nil)
		delete(u.Object, "spec")
		u.Object["data"] = map[string]any{"password": "aHVudGVyMg=="}
		u.SetAnnotations(map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"password":"aHVudGVyMg=="}}`})
		answers = append(answers, answer(cluster, info(secretMapping, u)))
	}
	return answers
}

// TestGetMasksSecrets: every output that prints objects shows a Secret's
// keys and never its values, templates and JSONPath included.
func TestGetMasksSecrets(t *testing.T) {
	for _, format := range [][]string{
		{"-o", "yaml"},
		{"-o", "json"},
		{"-o", "jsonpath={.items[*].data.password}"},
		{"-o", "go-template={{range .items}}{{.data.password}} {{end}}"},
		{"-o", "custom-columns=PASSWORD:.data.password"},
	} {
		t.Run(format[1], func(t *testing.T) {
			o, out, _ := newTestGetOptions(t, []string{"secret", "db"}, format...)
			if err := o.print(secretAnswers(), nil, nil); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out.String(), "aHVudGVyMg==") {
				t.Errorf("the output shows the password:\n%s", out)
			}
			if !strings.Contains(out.String(), "***") {
				t.Errorf("the output shows no masked value:\n%s", out)
			}
		})
	}
}
