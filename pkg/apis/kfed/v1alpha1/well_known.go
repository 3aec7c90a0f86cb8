package v1alpha1

// Namespace holds kfed's objects in the host (Federations, Clusters, the
// managers' credentials) and kfed's identities in every member.
const Namespace = "kfed-system"

// DNSNamespace is the host namespace that holds only what coredns-fed may
// read: the DNS-reader credential Secrets, and the zone's DNSSEC key set
// (package dnssec). RBAC grants Secrets by namespace
// or by name, not by label, so a namespace of their own is what lets
// coredns-fed read them without reading the managers' credentials too.
const DNSNamespace = "kfed-dns"

// FieldManager is the field manager of every server-side apply kfed makes.
const FieldManager = "kubectl-fed"

// Labels kfed puts on what it creates. Everything kfed creates in a member
// carries LabelFederation and LabelManagedBy, so it can be found and removed.
const (
	// LabelFederation names the federation an object belongs to.
	LabelFederation = GroupName + "/federation"
	// LabelCluster names the Cluster an object in the host belongs to, such
	// as a credential Secret.
	LabelCluster = GroupName + "/cluster"
	// LabelIdentity tells which identity a credential or token Secret is
	// for: IdentityManager or IdentityDNSReader.
	LabelIdentity = GroupName + "/identity"
	// LabelComponent is the standard label naming an object's part in
	// what manages it. The objects join creates carry ComponentMembership,
	// which tells them apart from what kfed distributes.
	LabelComponent = "app.kubernetes.io/component"
	// ComponentMembership is the LabelComponent of join's objects.
	ComponentMembership = "membership"
	// LabelManagedBy is the standard label naming the tool that manages an
	// object; kfed sets it to ManagedBy.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedBy is kfed's value of LabelManagedBy.
	ManagedBy = "kubectl-fed"
)

// The standard node labels kfed reads a member's topology from. Placement
// selectors may use the same keys against a Cluster's region and zone.
const (
	LabelTopologyRegion = "topology.kubernetes.io/region"
	LabelTopologyZone   = "topology.kubernetes.io/zone"
)

// The two identities join creates in every member.
const (
	// IdentityManager writes what the federation distributes.
	IdentityManager = "manager"
	// IdentityDNSReader lists and watches Services and EndpointSlices for
	// coredns-fed, and nothing else.
	IdentityDNSReader = "dns-reader"
)

// SecretTypeKubeconfig is the type of the host-side Secrets that hold one
// identity's kubeconfig for one member, under SecretKeyKubeconfig.
const (
	SecretTypeKubeconfig = GroupName + "/kubeconfig"
	SecretKeyKubeconfig  = "kubeconfig"
)

// DefaultManagerClusterRole is the ClusterRole the manager identity is bound
// to when neither the join nor the Federation's defaults name another. Join
// writes it in each member: it may write every namespaced kind the member
// serves, in every namespace, and namespaces and CRDs, and nothing else
// cluster-wide (no nodes, no RBAC of its own making, no impersonation).
const DefaultManagerClusterRole = "kfed-manager"

// Progress of an unjoin, kept on its Cluster.
const (
	// AnnotationUnjoin on a Cluster records how far an unjoin got, so
	// that an interrupted one, run again, goes on from there.
	AnnotationUnjoin = GroupName + "/unjoin"
	// UnjoinMemberCleaned is AnnotationUnjoin's value once the member is
	// clean (or, with --force, given up on): what is left is in the host.
	UnjoinMemberCleaned = "member-cleaned"
)

// AnnotationAppliedDigest on an object kfed wrote in a member holds a digest
// of the object as kfed last sent it there, this annotation left out. It
// lives on the object itself, so that only those who may read the object
// (a Secret, say) may read the digest of its content.
const AnnotationAppliedDigest = GroupName + "/applied-digest"
