package membership

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/member"
	"github.com/kfed-dev/kfed/pkg/store"
)

// applyHost saves the credentials and the Cluster, then records a first
// probe in its status.
func (r *joinRun) applyHost(ctx context.Context) (*v1alpha1.Cluster, error) {
	// A takeover within this host replaces the Clusters that held the
	// member before.
	for _, c := range r.stale {
		if err := r.deleteStale(ctx, c); err != nil {
			return nil, err
		}
	}
	var secrets []*corev1.Secret
	for _, id := range Identities() {
		s, err := r.ensureCredential(ctx, id)
		if err != nil {
			return nil, err
		}
		secrets = append(secrets, s)
	}
	if err := r.dropLegacyReader(ctx); err != nil {
		return nil, err
	}
	cluster, err := r.ensureCluster(ctx)
	if err != nil {
		return nil, err
	}
	// The Cluster owns the Secrets in its own namespace, so deleting it in
	// the host removes them. An owner must be in its dependent's namespace:
	// the garbage collector takes one in another namespace for absent and
	// deletes the dependent. So the DNS reader's Secret has no owner, and
	// unjoin deletes it.
	for _, s := range secrets {
		if s.Namespace != cluster.Namespace || hasOwner(s, string(cluster.UID)) {
			continue
		}
		ref := metav1.OwnerReference{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "Cluster", Name: cluster.Name, UID: cluster.UID}
		if err := patchOwners(ctx, r.Host.Kube.CoreV1().RESTClient(), "secrets", s.Namespace, s.Name, []metav1.OwnerReference{ref}); err != nil {
			return nil, fmt.Errorf("setting the owner of secret %s/%s in the host: %w", s.Namespace, s.Name, err)
		}
	}

	manager, err := r.credentialFor(v1alpha1.IdentityManager).RESTConfig()
	if err != nil {
		return nil, err
	}
	reader, err := r.credentialFor(v1alpha1.IdentityDNSReader).RESTConfig()
	if err != nil {
		return nil, err
	}
	probeCtx, cancel := context.WithTimeout(ctx, r.Federation.ClusterTimeoutOrDefault())
	defer cancel()
	h := member.Probe(probeCtx, manager, reader)
	if !h.Ready {
		return nil, fmt.Errorf("probing the member with the new credentials: %s: %s", h.Reason, h.Message)
	}
	if h.Nodes == nil && r.topo != nil {
		// The manager may not count nodes; the user's own credentials
		// did, for the topology.
		n := int32(r.topo.Nodes)
		h.Nodes = &n
	}
	h.ApplyTo(cluster)
	updated, err := r.Host.Clusters.UpdateStatus(ctx, cluster, metav1.UpdateOptions{FieldManager: v1alpha1.FieldManager})
	if err != nil {
		return nil, fmt.Errorf("recording the member's status in cluster.kfed.dev/%s: %w", cluster.Name, err)
	}
	return updated, nil
}

func (r *joinRun) credentialFor(identity string) store.Credential {
	c := r.Member.Connection
	c.Token = r.tokens[identity].value
	return c
}

func (r *joinRun) ensureCredential(ctx context.Context, identity string) (*corev1.Secret, error) {
	tok := r.tokens[identity]
	want, err := r.Host.CredentialSecret(r.fed, r.Name, identity, tok.secret, r.credentialFor(identity))
	if err != nil {
		return nil, err
	}
	want.Annotations = store.TokenAnnotations(tok.secret, tok.info)
	secrets := r.Host.Kube.CoreV1().Secrets(want.Namespace)
	what := "secret/" + want.Name
	cur, err := secrets.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		created, err := secrets.Create(ctx, want, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager})
		if err != nil {
			return nil, fmt.Errorf("saving %s in the host: %w", what, err)
		}
		r.j.add("host", what, func(ctx context.Context) error { return secrets.Delete(ctx, want.Name, metav1.DeleteOptions{}) })
		return created, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s in the host: %w", what, err)
	}
	// Compare what the kubeconfig means, not its bytes.
	same := cur.Type == want.Type && hasLabels(cur, want.Labels) &&
		maps.Equal(cur.Annotations, want.Annotations) && sameCredential(cur, want)
	if same {
		return cur, nil
	}
	if cur.Type != want.Type {
		return nil, fmt.Errorf("%s in the host has type %s, not %s: remove it and join again", what, cur.Type, want.Type)
	}
	old := cur.DeepCopy()
	cur.Data, cur.Annotations = want.Data, want.Annotations
	withLabels(cur, want.Labels)
	updated, err := secrets.Update(ctx, cur, metav1.UpdateOptions{FieldManager: v1alpha1.FieldManager})
	if err != nil {
		return nil, fmt.Errorf("updating %s in the host: %w", what, err)
	}
	r.j.add("host", what+" (credential)", func(ctx context.Context) error {
		s, err := secrets.Get(ctx, old.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		s.Data, s.Annotations, s.Labels = old.Data, old.Annotations, old.Labels
		_, err = secrets.Update(ctx, s, metav1.UpdateOptions{})
		return err
	})
	return updated, nil
}

// dropLegacyReader deletes the DNS reader's credential that an older
// kubectl-fed kept in kfed-system, once the one in DNSNamespace is written:
// coredns-fed may no longer read kfed-system. It is undone by putting the
// Secret back.
func (r *joinRun) dropLegacyReader(ctx context.Context) error {
	secrets := r.Host.Kube.CoreV1().Secrets(r.Host.Namespace)
	list, err := secrets.List(ctx, metav1.ListOptions{LabelSelector: store.DNSReaderSelector(r.Name)})
	if err != nil {
		return fmt.Errorf("listing the DNS-reader Secrets of %q in the host's %s: %w", r.Name, r.Host.Namespace, err)
	}
	for i := range list.Items {
		old := &list.Items[i]
		err := secrets.Delete(ctx, old.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &old.UID}})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("removing secret %s/%s from the host: %w", old.Namespace, old.Name, err)
		}
		r.j.add("host", fmt.Sprintf("secret/%s (removed from %s)", old.Name, old.Namespace), func(ctx context.Context) error {
			return recreate(ctx, secrets, old)
		})
	}
	return nil
}

// secretCreator creates Secrets: a Secrets client of the host or of a member.
type secretCreator interface {
	Create(ctx context.Context, s *corev1.Secret, opts metav1.CreateOptions) (*corev1.Secret, error)
}

// recreate puts back a Secret that was deleted, unless it is there again.
func recreate(ctx context.Context, secrets secretCreator, old *corev1.Secret) error {
	s := old.DeepCopy()
	s.ResourceVersion, s.UID = "", ""
	if _, err := secrets.Create(ctx, s, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

func sameCredential(a, b *corev1.Secret) bool {
	ca, errA := store.ConfigFromSecret(a)
	cb, errB := store.ConfigFromSecret(b)
	if errA != nil || errB != nil {
		return false
	}
	return ca.Host == cb.Host && ca.BearerToken == cb.BearerToken &&
		string(ca.CAData) == string(cb.CAData) && ca.ServerName == cb.ServerName &&
		ca.Insecure == cb.Insecure
}

func (r *joinRun) ensureCluster(ctx context.Context) (*v1alpha1.Cluster, error) {
	clusters := r.Host.Clusters
	what := "cluster.kfed.dev/" + r.Name
	labels := map[string]string{}
	if r.existing != nil {
		maps.Copy(labels, r.existing.Labels)
	}
	maps.Copy(labels, r.Labels)
	if r.existing == nil {
		c := &v1alpha1.Cluster{
			ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: r.Host.Namespace, Labels: labels},
			Spec:       r.cluster,
		}
		if len(c.Labels) == 0 {
			c.Labels = nil
		}
		created, err := clusters.Create(ctx, c, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager})
		if err != nil {
			return nil, fmt.Errorf("creating %s in the host: %w", what, err)
		}
		r.j.add("host", what, func(ctx context.Context) error {
			return clusters.Delete(ctx, r.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &created.UID}})
		})
		return created, nil
	}
	cur := r.existing.DeepCopy()
	if apiequality.Semantic.DeepEqual(cur.Spec, r.cluster) && maps.Equal(cur.Labels, labels) {
		return cur, nil
	}
	old := r.existing.DeepCopy()
	cur.Spec = r.cluster
	if len(labels) > 0 {
		cur.Labels = labels
	}
	updated, err := clusters.Update(ctx, cur, metav1.UpdateOptions{FieldManager: v1alpha1.FieldManager})
	if err != nil {
		return nil, fmt.Errorf("updating %s in the host: %w", what, err)
	}
	r.j.add("host", what+" (spec)", func(ctx context.Context) error {
		c, err := clusters.Get(ctx, old.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		c.Spec, c.Labels = old.Spec, old.Labels
		_, err = clusters.Update(ctx, c, metav1.UpdateOptions{})
		return err
	})
	return updated, nil
}

// deleteStale removes a Cluster of this host that held the member under
// another name or federation, with its credentials. It is undone by
// putting them back as they were.
func (r *joinRun) deleteStale(ctx context.Context, c *v1alpha1.Cluster) error {
	what := fmt.Sprintf("cluster.kfed.dev/%s of federation %s", c.Name, c.Spec.Federation)
	saved, err := r.Host.CredentialSecrets(ctx, c)
	if err != nil {
		return fmt.Errorf("reading the credentials of %s in the host: %w", what, err)
	}
	if err := r.Host.Clusters.Delete(ctx, c.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing %s from the host: %w", what, err)
	}
	// The name may be the one this join is about to create.
	if err := waitGone(ctx, func(ctx context.Context) error {
		_, err := r.Host.Clusters.Get(ctx, c.Name, metav1.GetOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("removing %s from the host: %w", what, err)
	}
	for _, s := range saved {
		if err := r.Host.Kube.CoreV1().Secrets(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("removing secret %s/%s from the host: %w", s.Namespace, s.Name, err)
		}
	}
	r.j.add("host", what+" (removed)", func(ctx context.Context) error {
		restored := c.DeepCopy()
		restored.ResourceVersion, restored.UID, restored.Status = "", "", v1alpha1.ClusterStatus{}
		if _, err := r.Host.Clusters.Create(ctx, restored, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		for _, s := range saved {
			// The Cluster they pointed at is gone; the restored one has
			// another UID.
			s.OwnerReferences = nil
			if err := recreate(ctx, r.Host.Kube.CoreV1().Secrets(s.Namespace), &s); err != nil {
				return err
			}
		}
		return nil
	})
	return nil
}
