package membership

import (
	"context"
	"encoding/json"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// patchOwners sets an object's owner references with a JSON merge patch.
func patchOwners(ctx context.Context, client rest.Interface, resource, namespace, name string, refs []metav1.OwnerReference) error {
	if refs == nil {
		refs = []metav1.OwnerReference{}
	}
	return patchMeta(ctx, client, resource, namespace, name, map[string]any{"ownerReferences": refs})
}

// restoreLabels puts an object's labels back as they were.
func restoreLabels(ctx context.Context, client rest.Interface, resource, namespace string, old metav1.Object) error {
	// A merge patch only adds and changes keys: set the removed ones to null.
	return patchMeta(ctx, client, resource, namespace, old.GetName(), map[string]any{"labels": labelPatch(old.GetLabels())})
}

func labelPatch(old map[string]string) map[string]any {
	p := map[string]any{}
	for k, v := range old {
		p[k] = v
	}
	for _, k := range []string{v1alpha1.LabelFederation, v1alpha1.LabelManagedBy, v1alpha1.LabelComponent, v1alpha1.LabelIdentity} {
		if _, ok := old[k]; !ok {
			p[k] = nil
		}
	}
	return p
}

func patchMeta(ctx context.Context, client rest.Interface, resource, namespace, name string, meta map[string]any) error {
	body, err := json.Marshal(map[string]any{"metadata": meta})
	if err != nil {
		return err
	}
	req := client.Patch(types.MergePatchType).Resource(resource).Name(name).Body(body)
	if namespace != "" {
		req = req.Namespace(namespace)
	}
	return req.Do(ctx).Error()
}

// waitGone waits until get returns NotFound.
func waitGone(ctx context.Context, get func(context.Context) error) error {
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		err := get(ctx)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}
