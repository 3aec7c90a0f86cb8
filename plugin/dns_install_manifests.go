package plugin

// The coredns-fed base as install applies it to one cluster: which of its
// objects a cluster gets, and what install sets in them.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// settings returns the coredns-fed-settings data.
func (o *DNSInstallOptions) settings() map[string]string {
	return map[string]string{
		"KFED_FEDERATION": o.federation.Name,
		"KFED_DOMAIN":     o.domain(),
	}
}

// applyBase applies the base to one cluster, but for the Corefile and the
// Deployment, which wait for the nameservers: the fed plugin refuses a
// Corefile without them, and a running server must not lose them. What the
// base grants in the host is left out of a member, since a member's
// coredns-fed reads nothing of its own cluster.
func (o *DNSInstallOptions) applyBase(ctx context.Context, c *dnsCluster, base []*unstructured.Unstructured) error {
	for _, obj := range base {
		obj = obj.DeepCopy()
		gvk := obj.GroupVersionKind()
		switch {
		case !c.host && (gvk.Group == "rbac.authorization.k8s.io" || gvk.Kind == "Namespace" || obj.GetNamespace() != v1alpha1.Namespace):
			continue
		case gvk.Kind == "ConfigMap" && obj.GetName() == corednsFedName, gvk.Kind == "Deployment":
			continue
		case gvk.Kind == "ConfigMap" && obj.GetName() == corednsFedSettings:
			if err := unstructured.SetNestedStringMap(obj.Object, o.settings(), "data"); err != nil {
				return manifestError(obj, "data", err)
			}
		}
		if err := applyTo(ctx, c, obj); err != nil {
			return err
		}
	}
	return nil
}

// applyDeployment applies the Deployment of the base to one cluster.
func (o *DNSInstallOptions) applyDeployment(ctx context.Context, c *dnsCluster, base []*unstructured.Unstructured) error {
	obj, err := baseObject(base, "Deployment", corednsFedName)
	if err != nil {
		return err
	}
	if err := o.setDeployment(obj, c, c.hostKubeconfig); err != nil {
		return err
	}
	return applyTo(ctx, c, obj)
}

// applyCorefile writes the Corefile, with every cluster's nameservers, into
// one cluster.
func (o *DNSInstallOptions) applyCorefile(ctx context.Context, c *dnsCluster, base []*unstructured.Unstructured, servers []nameserver) error {
	obj, err := baseObject(base, "ConfigMap", corednsFedName)
	if err != nil {
		return err
	}
	if err := setCorefile(obj, o.fedOptions(c, servers)); err != nil {
		return err
	}
	return applyTo(ctx, c, obj)
}

// baseObject returns a copy of the base's object of kind and name.
func baseObject(base []*unstructured.Unstructured, kind, name string) (*unstructured.Unstructured, error) {
	for _, obj := range base {
		if obj.GetKind() == kind && obj.GetName() == name {
			return obj.DeepCopy(), nil
		}
	}
	return nil, fmt.Errorf("the coredns-fed base has no %s %s", kind, name)
}

// setDeployment sets the image, and in a member mounts the host's
// kubeconfig. A member's pods get no token of their own ServiceAccount,
// which would grant them nothing.
func (o *DNSInstallOptions) setDeployment(obj *unstructured.Unstructured, c *dnsCluster, hostKubeconfig string) error {
	containersPath := []string{"spec", "template", "spec", "containers"}
	containers, found, err := unstructured.NestedSlice(obj.Object, containersPath...)
	if err != nil {
		return manifestError(obj, fieldPath(containersPath), err)
	}
	if !found || len(containers) == 0 {
		return manifestError(obj, fieldPath(containersPath), fmt.Errorf("no containers"))
	}
	for i, ct := range containers {
		container, ok := ct.(map[string]any)
		if !ok {
			return manifestError(obj, fmt.Sprintf("%s[%d]", fieldPath(containersPath), i), fmt.Errorf("is %T, not an object", ct))
		}
		if o.Image != "" {
			container["image"] = o.Image
		}
		if !c.host {
			mounts, _, err := unstructured.NestedSlice(container, "volumeMounts")
			if err != nil {
				return manifestError(obj, fmt.Sprintf("%s[%d].volumeMounts", fieldPath(containersPath), i), err)
			}
			container["volumeMounts"] = append(mounts, map[string]any{
				"name": corednsFedHost, "mountPath": hostKubeconfigDir, "readOnly": true,
			})
		}
	}
	if err := unstructured.SetNestedSlice(obj.Object, containers, containersPath...); err != nil {
		return manifestError(obj, fieldPath(containersPath), err)
	}
	if c.host {
		return nil
	}
	volumesPath := []string{"spec", "template", "spec", "volumes"}
	volumes, _, err := unstructured.NestedSlice(obj.Object, volumesPath...)
	if err != nil {
		return manifestError(obj, fieldPath(volumesPath), err)
	}
	volumes = append(volumes, map[string]any{
		"name": corednsFedHost,
		"secret": map[string]any{
			"secretName": corednsFedHost,
			"items":      []any{map[string]any{"key": v1alpha1.SecretKeyKubeconfig, "path": v1alpha1.SecretKeyKubeconfig}},
		},
	})
	if err := unstructured.SetNestedSlice(obj.Object, volumes, volumesPath...); err != nil {
		return manifestError(obj, fieldPath(volumesPath), err)
	}
	if err := unstructured.SetNestedField(obj.Object, false, "spec", "template", "spec", "automountServiceAccountToken"); err != nil {
		return manifestError(obj, "spec.template.spec.automountServiceAccountToken", err)
	}
	// A digest of a kubeconfig that holds a random token tells nothing of it.
	sum := sha256.Sum256([]byte(hostKubeconfig))
	if err := unstructured.SetNestedField(obj.Object, hex.EncodeToString(sum[:8]), "spec", "template", "metadata", "annotations", annotationHostKubeconfig); err != nil {
		return manifestError(obj, "spec.template.metadata.annotations", err)
	}
	return nil
}

// manifestError says which field of which object of the base install could
// not set: the base is built into the plugin, so this is a broken build or
// a base edited by hand.
func manifestError(obj *unstructured.Unstructured, field string, err error) error {
	return fmt.Errorf("the coredns-fed base's %s %s: %s: %w", obj.GetKind(), obj.GetName(), field, err)
}

// fieldPath writes a field's path as kubectl explain does.
func fieldPath(path []string) string {
	return strings.Join(path, ".")
}

// applyTo applies obj server-side to one cluster.
func applyTo(ctx context.Context, c *dnsCluster, obj *unstructured.Unstructured) error {
	gvk := obj.GroupVersionKind()
	mapping, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	_, err = c.dynamic.Resource(mapping.Resource).Namespace(obj.GetNamespace()).
		Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
	if err != nil {
		return fmt.Errorf("applying %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}
