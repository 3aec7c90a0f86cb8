// Package inventory keeps the record of what kfed distributed: one
// FederatedObject per federated object, in the host's kfed-system. Secrets
// are recorded with their template in a host Secret, never in the record.
package inventory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/gentype"
	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/store"
)

// Client reads and writes FederatedObjects in one namespace.
type Client = gentype.ClientWithList[*v1alpha1.FederatedObject, *v1alpha1.FederatedObjectList]

// Inventory is one federation's records.
type Inventory struct {
	Federation string
	Records    *Client
	store      *store.Store
}

// New returns the inventory of a federation in the host that s reaches.
func New(s *store.Store, federation string) (*Inventory, error) {
	cfg := rest.CopyConfig(s.Config)
	cfg.GroupVersion = &v1alpha1.SchemeGroupVersion
	cfg.APIPath = "/apis"
	cfg.ContentType = runtime.ContentTypeJSON
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(store.Scheme).WithoutConversion()
	if cfg.UserAgent == "" {
		cfg.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	rc, err := rest.RESTClientFor(cfg)
	if err != nil {
		return nil, err
	}
	return &Inventory{
		Federation: federation,
		store:      s,
		Records: gentype.NewClientWithList[*v1alpha1.FederatedObject, *v1alpha1.FederatedObjectList](
			"federatedobjects", rc, runtime.NewParameterCodec(store.Scheme), s.Namespace,
			func() *v1alpha1.FederatedObject { return &v1alpha1.FederatedObject{} },
			func() *v1alpha1.FederatedObjectList { return &v1alpha1.FederatedObjectList{} }),
	}, nil
}

// Key identifies a federated object.
type Key struct {
	Group, Kind, Namespace, Name string
}

// KeyOf returns the key of an object.
func KeyOf(obj *unstructured.Unstructured) Key {
	gvk := obj.GroupVersionKind()
	return Key{Group: gvk.Group, Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// KeyOfRecord returns the key of the object a record describes.
func KeyOfRecord(r *v1alpha1.FederatedObject) Key {
	gv, _ := schema.ParseGroupVersion(r.Spec.Resource.APIVersion)
	return Key{Group: gv.Group, Kind: r.Spec.Resource.Kind, Namespace: r.Spec.Resource.Namespace, Name: r.Spec.Resource.Name}
}

// String reads like kubectl's names: "deployment.apps/web", with the
// namespace in front for namespaced objects: "default/deployment.apps/web".
func (k Key) String() string {
	kind := strings.ToLower(k.Kind)
	if k.Group != "" {
		kind += "." + k.Group
	}
	if k.Namespace != "" {
		return k.Namespace + "/" + kind + "/" + k.Name
	}
	return kind + "/" + k.Name
}

// RecordName is the name of the record of key in federation: readable, and
// unique through a hash of the whole key.
func RecordName(federation string, k Key) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{federation, k.Group, k.Kind, k.Namespace, k.Name}, "\x00")))
	hash := hex.EncodeToString(sum[:])[:10]
	readable := federation + "-" + strings.ToLower(k.Kind) + "-" + k.Name
	// A name is a DNS subdomain of at most 253 characters; the hash keeps
	// it unique when the readable part is cut.
	if max := 253 - len(hash) - 1; len(readable) > max {
		readable = readable[:max]
	}
	readable = strings.Trim(sanitize(readable), "-.")
	return readable + "-" + hash
}

func sanitize(s string) string {
	b := []byte(strings.ToLower(s))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			b[i] = '-'
		}
	}
	return string(b)
}

// Entry is a record with its template decoded.
type Entry struct {
	Record   *v1alpha1.FederatedObject
	Template *unstructured.Unstructured
}

// Key returns the entry's key.
func (e *Entry) Key() Key { return KeyOfRecord(e.Record) }

// records returns every record of the federation, with one list.
func (inv *Inventory) records(ctx context.Context) ([]v1alpha1.FederatedObject, error) {
	list, err := inv.Records.List(ctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelFederation + "=" + inv.Federation})
	if err != nil {
		return nil, err
	}
	out := list.Items[:0]
	for _, r := range list.Items {
		if r.Spec.Federation == inv.Federation {
			out = append(out, r)
		}
	}
	return out, nil
}

// List returns the federation's entries, sorted by key.
func (inv *Inventory) List(ctx context.Context) ([]*Entry, error) {
	records, err := inv.records(ctx)
	if err != nil {
		return nil, err
	}
	// The templates of Secrets are Secrets themselves: one list reads them
	// all, however large the inventory.
	templates, err := inv.templateSecrets(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Entry
	for i := range records {
		r := &records[i]
		tmpl, err := inv.decode(r, templates[r.Spec.TemplateSecret])
		if err != nil {
			return nil, err
		}
		out = append(out, &Entry{Record: r, Template: tmpl})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key().String() < out[j].Key().String() })
	return out, nil
}

// templateSecrets reads, with one list, the host Secrets that hold the
// templates of the federation's Secrets, by name.
func (inv *Inventory) templateSecrets(ctx context.Context) (map[string]*corev1.Secret, error) {
	secrets, err := inv.store.Kube.CoreV1().Secrets(inv.store.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: v1alpha1.LabelFederation + "=" + inv.Federation,
		FieldSelector: "type=" + SecretTypeTemplate,
	})
	if err != nil {
		return nil, fmt.Errorf("reading the templates of federated Secrets: %w", err)
	}
	templates := make(map[string]*corev1.Secret, len(secrets.Items))
	for i := range secrets.Items {
		templates[secrets.Items[i].Name] = &secrets.Items[i]
	}
	return templates, nil
}

// Get returns the entry for key, or nil when there is none.
func (inv *Inventory) Get(ctx context.Context, k Key) (*Entry, error) {
	r, err := inv.Records.Get(ctx, RecordName(inv.Federation, k), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	tmpl, err := inv.template(ctx, r)
	if err != nil {
		return nil, err
	}
	return &Entry{Record: r, Template: tmpl}, nil
}

func (inv *Inventory) template(ctx context.Context, r *v1alpha1.FederatedObject) (*unstructured.Unstructured, error) {
	var secret *corev1.Secret
	if r.Spec.TemplateSecret != "" {
		s, err := inv.store.Kube.CoreV1().Secrets(inv.store.Namespace).Get(ctx, r.Spec.TemplateSecret, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("record %s: reading its template Secret %s: %w", r.Name, r.Spec.TemplateSecret, err)
		}
		if err == nil {
			secret = s
		}
	}
	return inv.decode(r, secret)
}

// decode returns the template of r: its own, or for a Secret the one held
// in secret, which is nil when that Secret is missing.
func (inv *Inventory) decode(r *v1alpha1.FederatedObject, secret *corev1.Secret) (*unstructured.Unstructured, error) {
	var raw []byte
	if r.Spec.Template != nil {
		raw = r.Spec.Template.Raw
	}
	if r.Spec.TemplateSecret != "" {
		if secret == nil {
			return nil, fmt.Errorf("record %s: its template Secret %s/%s is missing", r.Name, inv.store.Namespace, r.Spec.TemplateSecret)
		}
		raw = secret.Data[templateKey]
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("record %s has no template", r.Name)
	}
	// The unstructured decoder keeps integers as int64, as the API
	// machinery expects of spec.replicas and the like.
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(raw); err != nil {
		return nil, fmt.Errorf("record %s: template: %w", r.Name, err)
	}
	return obj, nil
}

const templateKey = "template"

// Save writes the record of tmpl with one server-side apply, and for
// Secrets the Secret holding the template. prev is the record as last read,
// or nil; results of clusters neither in results nor in drop are kept from
// it. A record is written whole, status included: no controller shares it,
// and one request per object keeps a large apply fast.
func (inv *Inventory) Save(ctx context.Context, tmpl *unstructured.Unstructured, applySet string, results []v1alpha1.ClusterResult, drop []string, prev *v1alpha1.FederatedObject) (*v1alpha1.FederatedObject, error) {
	k := KeyOf(tmpl)
	name := RecordName(inv.Federation, k)
	raw, err := json.Marshal(tmpl.Object)
	if err != nil {
		return nil, err
	}
	rec := &v1alpha1.FederatedObject{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "FederatedObject"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: inv.store.Namespace,
			Labels: map[string]string{
				v1alpha1.LabelFederation: inv.Federation,
				v1alpha1.LabelManagedBy:  v1alpha1.ManagedBy,
			},
		},
		Spec: v1alpha1.FederatedObjectSpec{
			Federation: inv.Federation,
			Resource: v1alpha1.ObjectReference{
				APIVersion: tmpl.GetAPIVersion(), Kind: k.Kind, Namespace: k.Namespace, Name: k.Name,
			},
			ApplySet: applySet,
		},
	}
	if k.Group == "" && k.Kind == "Secret" {
		rec.Spec.TemplateSecret = name
		if err := inv.saveTemplateSecret(ctx, name, raw); err != nil {
			return nil, err
		}
	} else {
		rec.Spec.Template = &runtime.RawExtension{Raw: raw}
	}
	var old []v1alpha1.ClusterResult
	if prev != nil {
		old = prev.Status.Clusters
	}
	rec.Status = statusOf(keep(old, drop), results)
	return inv.apply(ctx, rec)
}

func (inv *Inventory) apply(ctx context.Context, rec *v1alpha1.FederatedObject) (*v1alpha1.FederatedObject, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	force := true
	return inv.Records.Patch(ctx, rec.Name, types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: v1alpha1.FieldManager, Force: &force})
}

// SetStatus replaces the results of the clusters in results, keeping the
// others but those in drop, and marks the record deleting or not.
func (inv *Inventory) SetStatus(ctx context.Context, r *v1alpha1.FederatedObject, deleting bool, results []v1alpha1.ClusterResult, drop []string) (*v1alpha1.FederatedObject, error) {
	rec := r.DeepCopy()
	rec.TypeMeta = metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "FederatedObject"}
	rec.ManagedFields, rec.ResourceVersion, rec.UID, rec.CreationTimestamp, rec.Generation = nil, "", "", metav1.Time{}, 0
	rec.Spec.Deleting = deleting
	rec.Status = statusOf(keep(r.Status.Clusters, drop), results)
	return inv.apply(ctx, rec)
}

func keep(results []v1alpha1.ClusterResult, drop []string) []v1alpha1.ClusterResult {
	var kept []v1alpha1.ClusterResult
	for _, c := range results {
		if !contains(drop, c.Name) {
			kept = append(kept, c)
		}
	}
	return kept
}

// Delete removes the record of key and its template Secret.
func (inv *Inventory) Delete(ctx context.Context, r *v1alpha1.FederatedObject) error {
	err := inv.Records.Delete(ctx, r.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if r.Spec.TemplateSecret != "" {
		err := inv.store.Kube.CoreV1().Secrets(inv.store.Namespace).Delete(ctx, r.Spec.TemplateSecret, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

func (inv *Inventory) saveTemplateSecret(ctx context.Context, name string, raw []byte) error {
	secrets := inv.store.Kube.CoreV1().Secrets(inv.store.Namespace)
	want := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: inv.store.Namespace,
			Labels: map[string]string{
				v1alpha1.LabelFederation: inv.Federation,
				v1alpha1.LabelManagedBy:  v1alpha1.ManagedBy,
			},
		},
		Type: SecretTypeTemplate,
		Data: map[string][]byte{templateKey: raw},
	}
	want.APIVersion, want.Kind = "v1", "Secret"
	data, err := json.Marshal(want)
	if err != nil {
		return err
	}
	force := true
	_, err = secrets.Patch(ctx, name, types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: v1alpha1.FieldManager, Force: &force})
	return err
}

// SecretTypeTemplate is the type of the host Secrets that hold the template
// of a federated Secret.
const SecretTypeTemplate = v1alpha1.GroupName + "/template"

func statusOf(old, results []v1alpha1.ClusterResult) v1alpha1.FederatedObjectStatus {
	byName := map[string]v1alpha1.ClusterResult{}
	for _, c := range old {
		byName[c.Name] = c
	}
	for _, c := range results {
		byName[c.Name] = c
	}
	var st v1alpha1.FederatedObjectStatus
	ok := 0
	for _, c := range byName {
		st.Clusters = append(st.Clusters, c)
		switch c.Action {
		case v1alpha1.ActionCreated, v1alpha1.ActionConfigured, v1alpha1.ActionUnchanged:
			ok++
		}
	}
	sort.Slice(st.Clusters, func(i, j int) bool { return st.Clusters[i].Name < st.Clusters[j].Name })
	st.Summary = fmt.Sprintf("%d/%d applied", ok, len(st.Clusters))
	return st
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
