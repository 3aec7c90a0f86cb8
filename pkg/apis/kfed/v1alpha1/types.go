package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Federation is a named set of member clusters that kfed treats as one. It
// lives in the host cluster, in namespace kfed-system; one host may hold
// several federations. Its members are the Clusters whose spec.federation
// names it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=fed,categories=kfed
// +kubebuilder:printcolumn:name="Domain",type=string,JSONPath=`.spec.domain`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be a lowercase RFC 1123 label: it is part of the federation's DNS names"
type Federation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec FederationSpec `json:"spec"`
	// +optional
	Status FederationStatus `json:"status,omitempty"`
}

// FederationSpec is what the user chose for a federation at init.
type FederationSpec struct {
	// Domain is the DNS zone delegated to coredns-fed. Federated services
	// are answered as <svc>.<namespace>.<federation>.svc.<domain>, and
	// the region and zone forms below it.
	//
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`
	Domain string `json:"domain"`

	// Defaults apply to every member unless a command says otherwise.
	// +optional
	Defaults FederationDefaults `json:"defaults,omitempty"`
}

// FederationDefaults are the federation-wide defaults of kfed's commands.
type FederationDefaults struct {
	// ManagerClusterRole is the ClusterRole that join binds each member's
	// manager identity to when neither --manager-cluster-role nor
	// --manager-namespaces is given. Empty means kfed-manager, the role
	// join writes: namespaced kinds in every namespace, namespaces and
	// CRDs, and nothing else cluster-wide.
	// +optional
	ManagerClusterRole string `json:"managerClusterRole,omitempty"`

	// ClusterTimeout bounds how long a command waits for one member before
	// it reports that member as failed and goes on with the others.
	// Empty means 10s.
	// +optional
	ClusterTimeout *metav1.Duration `json:"clusterTimeout,omitempty"`
}

// FederationStatus is what kfed's commands observe, and record, about the
// federation as a whole.
type FederationStatus struct {
	// Conditions describe the federation's state.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Nameservers are the names in the zone that `kubectl fed dns install`
	// gave the load-balancer addresses of the clusters' coredns-fed
	// servers: ns1, ns2... A name stays with its cluster while the cluster
	// is joined, through installs that cannot reach it too, so that no
	// other server is renamed or readdressed when one fails. Install frees
	// the names of a cluster that has been unjoined, and of addresses a
	// cluster no longer has, and gives a new address the lowest free
	// number.
	// +optional
	// +listType=map
	// +listMapKey=name
	Nameservers []Nameserver `json:"nameservers,omitempty"`
}

// Nameserver is one of the zone's nameservers, as dns install numbered it.
type Nameserver struct {
	// Name is the nameserver's name, such as ns2.demo.example.com.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// Cluster is the name of the Cluster that runs the server, or the
	// host's context name when the host is not a member.
	// +kubebuilder:validation:MinLength=1
	Cluster string `json:"cluster"`

	// ClusterID identifies that cluster, as ClusterSpec.ClusterID does:
	// the name is kept for the cluster with this ID.
	// +kubebuilder:validation:MinLength=1
	ClusterID string `json:"clusterID"`

	// Address is the server's load-balancer address, the name's glue, when
	// install last reached its cluster.
	// +optional
	Address string `json:"address,omitempty"`
}

// FederationList is a list of Federations.
//
// +kubebuilder:object:root=true
type FederationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Federation `json:"items"`
}

// Cluster is one member of a federation, as the host knows it: where its API
// server is, where it is in the world, and which Secrets hold the
// credentials of kfed's two identities in it. Its labels are the member's
// labels for placement. `kubectl fed join` creates it and `kubectl fed
// unjoin` deletes it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,categories=kfed
// +kubebuilder:selectablefield:JSONPath=`.spec.federation`
// +kubebuilder:selectablefield:JSONPath=`.spec.region`
// +kubebuilder:selectablefield:JSONPath=`.spec.zone`
// +kubebuilder:printcolumn:name="Federation",type=string,JSONPath=`.spec.federation`
// +kubebuilder:printcolumn:name="Region",type=string,JSONPath=`.spec.region`
// +kubebuilder:printcolumn:name="Zone",type=string,JSONPath=`.spec.zone`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.kubernetesVersion`
// +kubebuilder:printcolumn:name="Nodes",type=integer,JSONPath=`.status.nodes`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Server",type=string,JSONPath=`.spec.server`,priority=1
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Last-Probe",type=date,JSONPath=`.status.lastProbeTime`,priority=1
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be a lowercase RFC 1123 label"
type Cluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ClusterSpec `json:"spec"`
	// +optional
	Status ClusterStatus `json:"status,omitempty"`
}

// ClusterSpec is what join recorded about a member.
type ClusterSpec struct {
	// Federation names the Federation, in the same namespace, that this
	// cluster is a member of.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="federation is immutable: unjoin the cluster and join it again"
	Federation string `json:"federation"`

	// Server is the URL of the member's API server, as kfed reaches it.
	// The credential Secrets hold the same URL with the CA to verify it.
	//
	// +kubebuilder:validation:Pattern=`^https?://`
	Server string `json:"server"`

	// ClusterID identifies the member: the UID of its kube-system
	// namespace, which lives as long as the cluster. It tells a re-join of
	// the same cluster apart from another cluster under a taken name.
	//
	// +kubebuilder:validation:MinLength=1
	ClusterID string `json:"clusterID"`

	// Region is the member's region, as in the node label
	// topology.kubernetes.io/region. It is a DNS label, since it is part of
	// the region-scoped DNS names.
	//
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Region string `json:"region,omitempty"`

	// Zone is the member's zone, as in the node label
	// topology.kubernetes.io/zone. It is a DNS label too.
	//
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Zone string `json:"zone,omitempty"`

	// Location is where the member is on Earth, for answering clients with
	// the nearest members.
	// +optional
	Location *Location `json:"location,omitempty"`

	// Credentials name the host Secrets holding a kubeconfig for each of
	// kfed's identities in the member.
	Credentials ClusterCredentials `json:"credentials"`

	// ManagerClusterRole is the ClusterRole the manager identity is bound
	// to in the member: kfed-manager, which join writes, or one of the
	// operator's own.
	// +optional
	ManagerClusterRole string `json:"managerClusterRole,omitempty"`

	// ManagerNamespaces, when set, are the only namespaces the manager
	// identity may write in the member (besides kfed-system, where kfed
	// keeps its own objects); ManagerClusterRole then grants it reads of
	// namespaces alone.
	// +optional
	// +listType=set
	ManagerNamespaces []string `json:"managerNamespaces,omitempty"`
}

// Location is a point on Earth in decimal degrees (WGS 84). The degrees are
// strings, as Kubernetes APIs avoid floating-point fields; Coordinates
// parses them.
//
// +kubebuilder:validation:XValidation:rule="double(self.latitude) >= -90.0 && double(self.latitude) <= 90.0",message="latitude must be between -90 and 90"
// +kubebuilder:validation:XValidation:rule="double(self.longitude) >= -180.0 && double(self.longitude) <= 180.0",message="longitude must be between -180 and 180"
type Location struct {
	// Latitude in decimal degrees, north positive.
	// +kubebuilder:validation:Pattern=`^[-+]?[0-9]{1,2}(\.[0-9]{1,8})?$`
	Latitude string `json:"latitude"`
	// Longitude in decimal degrees, east positive.
	// +kubebuilder:validation:Pattern=`^[-+]?[0-9]{1,3}(\.[0-9]{1,8})?$`
	Longitude string `json:"longitude"`
}

// ClusterCredentials name the Secrets holding each identity's kubeconfig.
type ClusterCredentials struct {
	// Manager can write what the federation distributes to the member. Its
	// Secret is in the Cluster's namespace, and the Cluster owns it.
	Manager SecretReference `json:"manager"`
	// DNSReader can only list and watch Services and EndpointSlices: it
	// is what coredns-fed uses. Its Secret is in
	// the namespace kfed-dns, which holds nothing else, so that coredns-fed
	// may read it and no other credential. An owner must be in its
	// dependent's namespace, so the Cluster does not own this Secret:
	// `kubectl fed unjoin` deletes it, and deleting the Cluster alone
	// leaves it behind.
	DNSReader SecretReference `json:"dnsReader"`
}

// SecretReference names a Secret in the namespace its field documents.
type SecretReference struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// ClusterStatus is what kfed last observed of the member.
type ClusterStatus struct {
	// Conditions hold the condition Ready: whether kfed's credentials
	// reach the member and work, with the reason when they do not.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// KubernetesVersion is the member's API server version, such as v1.35.4.
	// +optional
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`

	// Nodes is the number of the member's nodes.
	// +optional
	Nodes *int32 `json:"nodes,omitempty"`

	// Latency is the round-trip time of a request to the member's API
	// server at the last probe.
	// +optional
	Latency *metav1.Duration `json:"latency,omitempty"`

	// LastProbeTime is when kfed last probed the member.
	// +optional
	LastProbeTime *metav1.Time `json:"lastProbeTime,omitempty"`
}

// ClusterList is a list of Clusters.
//
// +kubebuilder:object:root=true
type ClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Cluster `json:"items"`
}

// ConditionReady is the condition type telling whether a member can be used.
const ConditionReady = "Ready"

// Reasons of the Ready condition.
const (
	// ReasonProbeSucceeded: both identities reached the member and were
	// authorised.
	ReasonProbeSucceeded = "ProbeSucceeded"
	// ReasonUnreachable: no connection to the member's API server.
	ReasonUnreachable = "Unreachable"
	// ReasonTimeout: the member did not answer within the timeout.
	ReasonTimeout = "Timeout"
	// ReasonUnauthorized: the member rejected a token (401).
	ReasonUnauthorized = "Unauthorized"
	// ReasonForbidden: the member refused an identity what it needs (403).
	ReasonForbidden = "Forbidden"
	// ReasonCredentialsInvalid: a credential Secret in the host is missing
	// or does not hold a usable kubeconfig.
	ReasonCredentialsInvalid = "CredentialsInvalid"
	// ReasonError: any other failure; the message says which.
	ReasonError = "Error"
)
