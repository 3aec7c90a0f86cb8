package occupants

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
)

// served is what a plain cluster's discovery answers, cut down.
type served struct {
	lists []*metav1.APIResourceList
	err   error
}

func (s served) ServerPreferredNamespacedResources() ([]*metav1.APIResourceList, error) {
	return s.lists, s.err
}

var plain = served{lists: []*metav1.APIResourceList{
	{GroupVersion: "v1", APIResources: []metav1.APIResource{
		{Name: "configmaps", Kind: "ConfigMap", Namespaced: true, Verbs: metav1.Verbs{"list", "delete", "get"}},
		{Name: "serviceaccounts", Kind: "ServiceAccount", Namespaced: true, Verbs: metav1.Verbs{"list", "delete"}},
		{Name: "serviceaccounts/token", Kind: "TokenRequest", Namespaced: true, Verbs: metav1.Verbs{"create"}},
		{Name: "events", Kind: "Event", Namespaced: true, Verbs: metav1.Verbs{"list", "delete"}},
		{Name: "bindings", Kind: "Binding", Namespaced: true, Verbs: metav1.Verbs{"create"}},
		{Name: "pods", Kind: "Pod", Namespaced: true, Verbs: metav1.Verbs{"list", "delete"}},
	}},
	{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
		{Name: "deployments", Kind: "Deployment", Namespaced: true, Verbs: metav1.Verbs{"list", "delete"}},
		{Name: "replicasets", Kind: "ReplicaSet", Namespaced: true, Verbs: metav1.Verbs{"list", "delete"}},
	}},
	{GroupVersion: "metrics.k8s.io/v1beta1", APIResources: []metav1.APIResource{
		{Name: "pods", Kind: "PodMetrics", Namespaced: true, Verbs: metav1.Verbs{"get", "list"}},
	}},
}}

var ours = map[string]string{labelFederation: "ring", labelManagedBy: managedBy}

func meta(apiVersion, kind, ns, name string, labels map[string]string, owners ...metav1.OwnerReference) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta: metav1.TypeMeta{APIVersion: apiVersion, Kind: kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, OwnerReferences: owners,
			UID: types.UID(kind + "-" + name)},
	}
}

func ownedBy(kind, apiVersion, name string) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID(kind + "-" + name)}
}

// scheme knows, as metadata, the kinds of plain.
func scheme() *runtime.Scheme {
	s := metadatafake.NewTestScheme()
	for _, list := range plain.lists {
		gv, _ := schema.ParseGroupVersion(list.GroupVersion)
		for _, r := range list.APIResources {
			s.AddKnownTypeWithName(gv.WithKind(r.Kind), &metav1.PartialObjectMetadata{})
			s.AddKnownTypeWithName(gv.WithKind(r.Kind+"List"), &metav1.PartialObjectMetadataList{})
		}
	}
	return s
}

func scan(t *testing.T, owner Owner, objs ...runtime.Object) (*Verdict, error) {
	t.Helper()
	client := metadatafake.NewSimpleMetadataClient(scheme(), objs...)
	s := &Scanner{Discovery: plain, Metadata: client, Workers: 2}
	return s.Scan(context.Background(), "shop", owner)
}

func TestScan(t *testing.T) {
	defaults := []runtime.Object{
		meta("v1", "ConfigMap", "shop", "kube-root-ca.crt", nil),
		meta("v1", "ServiceAccount", "shop", "default", nil),
		meta("v1", "Event", "shop", "web.1", nil),
		// Another namespace is not looked at.
		meta("v1", "ConfigMap", "other", "notes", nil),
	}
	// What a Deployment kfed just deleted leaves behind for the garbage
	// collector: its ReplicaSet, whose owner is gone, and that one's Pod.
	leftovers := []runtime.Object{
		meta("apps/v1", "ReplicaSet", "shop", "web-1", map[string]string{"app": "web"}, ownedBy("Deployment", "apps/v1", "web")),
		meta("v1", "Pod", "shop", "web-1-a", map[string]string{"app": "web"}, ownedBy("ReplicaSet", "apps/v1", "web-1")),
	}
	for _, tc := range []struct {
		name         string
		owner        Owner
		objs         []runtime.Object
		foreign, kep []string
	}{
		{"only defaults", Owner{Federation: "ring"}, defaults, nil, nil},
		{"kfed's objects and what they left", Owner{Federation: "ring"}, append(append([]runtime.Object{
			meta("v1", "ConfigMap", "shop", "settings", ours),
		}, leftovers...), defaults...), nil, nil},
		{"a hand-made ConfigMap", Owner{Federation: "ring"}, append([]runtime.Object{
			meta("v1", "ConfigMap", "shop", "settings", ours),
			meta("v1", "ConfigMap", "shop", "notes", nil),
		}, defaults...), []string{"configmap/notes"}, nil},
		{"a user's Deployment, named once", Owner{Federation: "ring"}, []runtime.Object{
			meta("apps/v1", "Deployment", "shop", "mine", nil),
			meta("apps/v1", "ReplicaSet", "shop", "mine-1", nil, ownedBy("Deployment", "apps/v1", "mine")),
			meta("v1", "Pod", "shop", "mine-1-a", nil, ownedBy("ReplicaSet", "apps/v1", "mine-1")),
		}, []string{"deployment.apps/mine"}, nil},
		{"another federation's", Owner{Federation: "ring"}, []runtime.Object{
			meta("v1", "ConfigMap", "shop", "theirs", map[string]string{labelFederation: "other", labelManagedBy: managedBy}),
		}, []string{"configmap/theirs"}, nil},
		{"kfed's, still placed", Owner{Federation: "ring", Kept: func(gk schema.GroupKind, name string) bool {
			return gk == schema.GroupKind{Group: "apps", Kind: "Deployment"} && name == "web"
		}}, append([]runtime.Object{
			meta("apps/v1", "Deployment", "shop", "web", ours),
			meta("apps/v1", "ReplicaSet", "shop", "web-1", nil, ownedBy("Deployment", "apps/v1", "web")),
			meta("v1", "ConfigMap", "shop", "settings", ours),
		}, defaults...), nil, []string{"deployment.apps/web"}},
		{"an owner that may exist elsewhere", Owner{Federation: "ring"}, []runtime.Object{
			meta("v1", "ConfigMap", "shop", "owned", nil, ownedBy("ClusterRole", "rbac.authorization.k8s.io/v1", "x")),
		}, []string{"configmap/owned"}, nil},
		{"a cycle of owners", Owner{Federation: "ring"}, []runtime.Object{
			meta("v1", "ConfigMap", "shop", "a", nil, ownedBy("ConfigMap", "v1", "b")),
			meta("v1", "ConfigMap", "shop", "b", nil, ownedBy("ConfigMap", "v1", "a")),
		}, []string{"configmap/a", "configmap/b"}, nil},
		{"owned by kfed's and by a user's", Owner{Federation: "ring"}, []runtime.Object{
			meta("v1", "ConfigMap", "shop", "settings", ours),
			meta("v1", "ConfigMap", "shop", "mine", nil),
			meta("v1", "ConfigMap", "shop", "both", nil, ownedBy("ConfigMap", "v1", "settings"), ownedBy("ConfigMap", "v1", "mine")),
		}, []string{"configmap/mine"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := scan(t, tc.owner, tc.objs...)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(v.Foreign, tc.foreign) || !reflect.DeepEqual(v.Kept, tc.kep) {
				t.Errorf("foreign %v, kept %v; want %v, %v", v.Foreign, v.Kept, tc.foreign, tc.kep)
			}
			if v.Removable() != (tc.foreign == nil && tc.kep == nil) {
				t.Errorf("Removable() = %v", v.Removable())
			}
		})
	}
}

func TestScanTerminatingGoes(t *testing.T) {
	now := metav1.Now()
	pvc := meta("v1", "ConfigMap", "shop", "going", nil)
	pvc.DeletionTimestamp = &now
	v, err := scan(t, Owner{Federation: "ring"}, pvc)
	if err != nil || !v.Removable() {
		t.Errorf("got %+v, %v", v, err)
	}
}

func TestReason(t *testing.T) {
	v := &Verdict{Foreign: []string{"configmap/notes"}}
	if got, want := v.Reason(), "it holds configmap/notes, which kfed did not create"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	v = &Verdict{Foreign: []string{"a/1", "a/2", "a/3", "a/4", "a/5", "a/6", "a/7"}, Kept: []string{"deployment.apps/web"}}
	if got, want := v.Reason(), "it holds a/1, a/2, a/3, a/4, a/5 and 2 more, which kfed did not create; it holds deployment.apps/web, which the federation still places there"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if (&Verdict{}).Reason() != "" {
		t.Errorf("an empty namespace has a reason")
	}
}

// A scan that cannot see everything is an error: the namespace must stay.
func TestScanErrors(t *testing.T) {
	s := &Scanner{Discovery: served{err: errors.New("unable to retrieve the complete list of server APIs: metrics.k8s.io/v1beta1: the server is currently unable to handle the request")},
		Metadata: metadatafake.NewSimpleMetadataClient(scheme())}
	if _, err := s.Scan(context.Background(), "shop", Owner{Federation: "ring"}); err == nil || !strings.Contains(err.Error(), "reading which kinds the cluster serves") {
		t.Errorf("partial discovery: got %v", err)
	}

	client := metadatafake.NewSimpleMetadataClient(scheme())
	client.PrependReactor("list", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New("no"))
	})
	client.PrependReactor("list", "replicasets", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Group: "apps", Resource: "replicasets"}, "")
	})
	s = &Scanner{Discovery: plain, Metadata: client}
	if _, err := s.Scan(context.Background(), "shop", Owner{Federation: "ring"}); err == nil || !strings.Contains(err.Error(), "listing pods in namespace shop") {
		t.Errorf("forbidden list: got %v", err)
	}
}
