package redact

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func mustObject(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	if doc == "" {
		return nil
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatalf("parsing %q: %v", doc, err)
	}
	return u
}

func TestSecretPair(t *testing.T) {
	tests := []struct {
		name                  string
		before, after         string
		wantBefore, wantAfter string
	}{
		{
			name: "a changed value shows as before and after, an equal one as the mask",
			before: `{apiVersion: v1, kind: Secret, metadata: {name: s},
				data: {same: c2FtZQ==, changed: b2xk, gone: Z29uZQ==}}`,
			after: `{apiVersion: v1, kind: Secret, metadata: {name: s},
				data: {same: c2FtZQ==, changed: bmV3, added: YWRkZWQ=}}`,
			wantBefore: `{apiVersion: v1, kind: Secret, metadata: {name: s},
				data: {same: "***", changed: "*** (before)", gone: "***"}}`,
			wantAfter: `{apiVersion: v1, kind: Secret, metadata: {name: s},
				data: {same: "***", changed: "*** (after)", added: "***"}}`,
		},
		{
			name:       "stringData is masked as data is",
			before:     `{apiVersion: v1, kind: Secret, stringData: {password: hunter2}}`,
			after:      `{apiVersion: v1, kind: Secret, stringData: {password: hunter3, user: admin}}`,
			wantBefore: `{apiVersion: v1, kind: Secret, stringData: {password: "*** (before)"}}`,
			wantAfter:  `{apiVersion: v1, kind: Secret, stringData: {password: "*** (after)", user: "***"}}`,
		},
		{
			name: "the last-applied annotation is masked, other annotations are not",
			before: `{apiVersion: v1, kind: Secret, metadata: {annotations: {
				kubectl.kubernetes.io/last-applied-configuration: '{"data":{"k":"b2xk"}}', team: a}}}`,
			after: `{apiVersion: v1, kind: Secret, metadata: {annotations: {
				kubectl.kubernetes.io/last-applied-configuration: '{"data":{"k":"bmV3"}}', team: b}}}`,
			wantBefore: `{apiVersion: v1, kind: Secret, metadata: {annotations: {
				kubectl.kubernetes.io/last-applied-configuration: "*** (before)", team: a}}}`,
			wantAfter: `{apiVersion: v1, kind: Secret, metadata: {annotations: {
				kubectl.kubernetes.io/last-applied-configuration: "*** (after)", team: b}}}`,
		},
		{
			name:       "a data field that is not a map is masked whole",
			before:     `{apiVersion: v1, kind: Secret, data: [c2VjcmV0]}`,
			after:      `{apiVersion: v1, kind: Secret, data: {k: c2VjcmV0}}`,
			wantBefore: `{apiVersion: v1, kind: Secret, data: "*** (before)"}`,
			wantAfter:  `{apiVersion: v1, kind: Secret, data: "*** (after)"}`,
		},
		{
			name:       "a Secret only on one side is masked",
			before:     ``,
			after:      `{apiVersion: v1, kind: Secret, data: {k: c2VjcmV0}}`,
			wantBefore: ``,
			wantAfter:  `{apiVersion: v1, kind: Secret, data: {k: "***"}}`,
		},
		{
			name:       "other kinds are left as they are",
			before:     `{apiVersion: v1, kind: ConfigMap, data: {k: old}}`,
			after:      `{apiVersion: v1, kind: ConfigMap, data: {k: new}}`,
			wantBefore: `{apiVersion: v1, kind: ConfigMap, data: {k: old}}`,
			wantAfter:  `{apiVersion: v1, kind: ConfigMap, data: {k: new}}`,
		},
		{
			name:       "a Secret of another group is not a Secret",
			before:     `{apiVersion: example.com/v1, kind: Secret, data: {k: old}}`,
			after:      `{apiVersion: example.com/v1, kind: Secret, data: {k: new}}`,
			wantBefore: `{apiVersion: example.com/v1, kind: Secret, data: {k: old}}`,
			wantAfter:  `{apiVersion: example.com/v1, kind: Secret, data: {k: new}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, after := mustObject(t, tt.before), mustObject(t, tt.after)
			origBefore, origAfter := before.DeepCopy(), after.DeepCopy()
			gotBefore, gotAfter := SecretPair(before, after)
			if want := mustObject(t, tt.wantBefore); !reflect.DeepEqual(gotBefore, want) {
				t.Errorf("before: got %v, want %v", gotBefore, want)
			}
			if want := mustObject(t, tt.wantAfter); !reflect.DeepEqual(gotAfter, want) {
				t.Errorf("after: got %v, want %v", gotAfter, want)
			}
			if !reflect.DeepEqual(before, origBefore) || !reflect.DeepEqual(after, origAfter) {
				t.Errorf("the objects given were changed: %v, %v", before, after)
			}
		})
	}
}

func TestSecret(t *testing.T) {
	in := mustObject(t, `{apiVersion: v1, kind: Secret, metadata: {name: s, labels: {a: b}},
		type: Opaque, data: {token: ZXlK, ca.crt: Y2E=}}`)
	want := mustObject(t, `{apiVersion: v1, kind: Secret, metadata: {name: s, labels: {a: b}},
		type: Opaque, data: {token: "***", ca.crt: "***"}}`)
	if got := Secret(in); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if in.Object["data"].(map[string]any)["token"] != "ZXlK" {
		t.Errorf("the Secret given was changed: %v", in)
	}
	cm := mustObject(t, `{apiVersion: v1, kind: ConfigMap, data: {k: v}}`)
	if got := Secret(cm); got != cm {
		t.Errorf("a ConfigMap was copied or changed: %v", got)
	}
	if got := Secret(nil); got != nil {
		t.Errorf("Secret(nil) = %v", got)
	}
}
