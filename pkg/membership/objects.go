// Package membership joins clusters to a federation and removes them: the
// identities, roles and tokens in the member, the credentials and Cluster
// object in the host, and the rollback that keeps either side from being
// left half-joined.
package membership

import (
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// The names of what join creates in a member. A member belongs to one
// federation at a time, so the names are fixed; taking a member over from
// another federation reuses them and replaces the tokens.
const (
	// ManagerServiceAccount writes what the federation distributes.
	ManagerServiceAccount = "kfed-manager"
	// DNSReaderServiceAccount is coredns-fed's read-only identity.
	DNSReaderServiceAccount = "kfed-dns-reader"
	// DNSReaderClusterRole grants the DNS reader what it reads.
	DNSReaderClusterRole = "kfed-dns-reader"
	// ManagerClusterRoleBinding binds the manager to its ClusterRole. It
	// is also the anchor of the membership: the manager's ServiceAccount,
	// and the namespace when join created it, are owned by it, so that
	// deleting it last lets the member's garbage collector finish an unjoin
	// that the manager, having lost its own identity, cannot.
	ManagerClusterRoleBinding = "kfed-manager"
	// DNSReaderClusterRoleBinding binds the DNS reader to its ClusterRole.
	DNSReaderClusterRoleBinding = "kfed-dns-reader"
	// MembershipConfigMap marks the member as belonging to a federation:
	// which one, under which name, and in which host.
	MembershipConfigMap = "kfed-membership"
)

// Keys of the membership ConfigMap.
const (
	keyFederation = "federation"
	keyCluster    = "cluster"
	keyHostID     = "hostClusterID"
	keyHostServer = "hostServer"
)

// DNSReaderRules are everything the DNS reader may do: list and watch the
// Services and EndpointSlices coredns-fed answers from, which its informers
// read (they never get one by name). Nothing else; in particular no
// Secrets, no nodes and no writes.
func DNSReaderRules() []rbacv1.PolicyRule {
	read := []string{"list", "watch"}
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: read},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: read},
	}
}

// serviceAccountFor returns the ServiceAccount of an identity.
func serviceAccountFor(identity string) string {
	if identity == v1alpha1.IdentityDNSReader {
		return DNSReaderServiceAccount
	}
	return ManagerServiceAccount
}

// memberLabels are the labels of everything join creates in a member.
func memberLabels(federation string) map[string]string {
	return map[string]string{
		v1alpha1.LabelFederation: federation,
		v1alpha1.LabelManagedBy:  v1alpha1.ManagedBy,
		v1alpha1.LabelComponent:  v1alpha1.ComponentMembership,
	}
}

func identityLabels(federation, identity string) map[string]string {
	l := memberLabels(federation)
	l[v1alpha1.LabelIdentity] = identity
	return l
}

// isOurs reports whether an object in a member was made by kfed's join,
// for any federation.
func isOurs(m metav1.Object) bool {
	return m.GetLabels()[v1alpha1.LabelManagedBy] == v1alpha1.ManagedBy &&
		m.GetLabels()[v1alpha1.LabelComponent] == v1alpha1.ComponentMembership
}

// hasLabels reports whether every label of want is on m with the same value.
func hasLabels(m metav1.Object, want map[string]string) bool {
	for k, v := range want {
		if m.GetLabels()[k] != v {
			return false
		}
	}
	return true
}

func withLabels(m metav1.Object, add map[string]string) {
	l := m.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	for k, v := range add {
		l[k] = v
	}
	m.SetLabels(l)
}

func anchorRef(crb *rbacv1.ClusterRoleBinding) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion: rbacv1.SchemeGroupVersion.String(),
		Kind:       "ClusterRoleBinding",
		Name:       crb.Name,
		UID:        crb.UID,
	}
}

func serviceAccountRef(sa *corev1.ServiceAccount) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion: "v1",
		Kind:       "ServiceAccount",
		Name:       sa.Name,
		UID:        sa.UID,
	}
}

func hasOwner(m metav1.Object, uid string) bool {
	for _, r := range m.GetOwnerReferences() {
		if string(r.UID) == uid {
			return true
		}
	}
	return false
}
