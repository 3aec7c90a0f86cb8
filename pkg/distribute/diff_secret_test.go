package distribute

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestUnifiedDiffMasksSecrets: the key whose value changes shows, with
// kubectl diff's before and after masks, and neither value does.
func TestUnifiedDiffMasksSecrets(t *testing.T) {
	secret := func(password string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret",
			"metadata": map[string]any{"name": "db", "namespace": "shop"},
			"data":     map[string]any{"password": password, "user": "YWRtaW4="},
		}}
	}
	live, want := secret("b2xkLXBhc3N3b3Jk"), secret("bmV3LXBhc3N3b3Jk")
	d, err := unifiedDiff(live, want, "usa/v1/Secret/shop/db")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"-  password: '*** (before)'", "+  password: '*** (after)'", "user: '***'"} {
		if !strings.Contains(d, s) {
			t.Errorf("the diff lacks %q:\n%s", s, d)
		}
	}
	for _, s := range []string{"b2xkLXBhc3N3b3Jk", "bmV3LXBhc3N3b3Jk", "YWRtaW4="} {
		if strings.Contains(d, s) {
			t.Errorf("the diff shows the value %q:\n%s", s, d)
		}
	}
	if live.Object["data"].(map[string]any)["password"] != "b2xkLXBhc3N3b3Jk" {
		t.Errorf("the live object was masked in place")
	}
}
