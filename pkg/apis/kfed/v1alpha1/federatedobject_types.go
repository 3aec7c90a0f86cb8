package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// FederatedObject is the inventory record of one object that `kubectl fed
// apply` distributed: the object as the user wrote it, with its placement and
// overrides in its kfed.dev annotations, and what happened in each member.
// `sync`, `diff`, `delete`, `rebalance` and newly joined members work from
// these records; no controller acts on them, and kfed writes each one whole,
// status included, which is why it has no status subresource.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=fo,categories=kfed
// +kubebuilder:printcolumn:name="Federation",type=string,JSONPath=`.spec.federation`
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.resource.kind`
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.spec.resource.namespace`
// +kubebuilder:printcolumn:name="Name",type=string,JSONPath=`.spec.resource.name`
// +kubebuilder:printcolumn:name="Clusters",type=string,JSONPath=`.status.summary`
// +kubebuilder:printcolumn:name="Deleting",type=boolean,JSONPath=`.spec.deleting`,priority=1
// +kubebuilder:printcolumn:name="Applyset",type=string,JSONPath=`.spec.applySet`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:selectablefield:JSONPath=`.spec.federation`
// +kubebuilder:selectablefield:JSONPath=`.spec.resource.namespace`
// +kubebuilder:selectablefield:JSONPath=`.spec.resource.kind`
type FederatedObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec FederatedObjectSpec `json:"spec"`
	// +optional
	Status FederatedObjectStatus `json:"status,omitempty"`
}

// FederatedObjectSpec records what the user asked for.
type FederatedObjectSpec struct {
	// Federation names the Federation the object belongs to.
	// +kubebuilder:validation:MinLength=1
	Federation string `json:"federation"`

	// Resource identifies the object in the members.
	Resource ObjectReference `json:"resource"`

	// Template is the object as the user applied it, kfed.dev annotations
	// included. It is empty for Secrets, whose template is kept in the
	// Secret TemplateSecret names, so that Secret data stays in Secrets.
	// It is one atomic value to server-side apply: kfed writes it whole,
	// and tracking each of its fields would only cost the host.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +mapType=atomic
	Template *runtime.RawExtension `json:"template,omitempty"`

	// TemplateSecret names a Secret in the record's namespace that holds
	// the template under the key "template", for objects that are Secrets.
	// +optional
	TemplateSecret string `json:"templateSecret,omitempty"`

	// ApplySet names the set the object was applied in, with
	// `kubectl fed apply --applyset`; `--prune` deletes what a set holds
	// that is no longer in the input.
	// +optional
	ApplySet string `json:"applySet,omitempty"`

	// Deleting is set when `kubectl fed delete` could not remove the object
	// from every member; `sync` finishes the deletion.
	// +optional
	Deleting bool `json:"deleting,omitempty"`
}

// ObjectReference identifies an object in every member by its type, namespace
// and name.
type ObjectReference struct {
	// APIVersion is the object's group and version, as in its manifest.
	APIVersion string `json:"apiVersion"`
	// Kind is the object's kind.
	Kind string `json:"kind"`
	// Namespace is empty for cluster-scoped objects.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Name is the object's name.
	Name string `json:"name"`
}

// FederatedObjectStatus records the last result in each member.
type FederatedObjectStatus struct {
	// Clusters holds one entry per member the object was placed in, or
	// is still to be deleted from, sorted by name. Each command writes it
	// whole, so it is atomic.
	// +optional
	// +listType=atomic
	Clusters []ClusterResult `json:"clusters,omitempty"`

	// Summary reads like "3/3 applied" for `kubectl get`.
	// +optional
	Summary string `json:"summary,omitempty"`
}

// ClusterResult is what the last command did with the object in one member.
type ClusterResult struct {
	// Name names the member Cluster.
	Name string `json:"name"`
	// Action is the outcome: created, configured, unchanged, deleted,
	// failed, or pending-deletion; or pending while a command is writing
	// the object there, or after one that ended before it knew the outcome.
	Action string `json:"action"`
	// Replicas is the member's share of spec.replicas, for workloads.
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`
	// Message explains a failure, or carries a warning.
	// +optional
	Message string `json:"message,omitempty"`
	// Time is when the action happened.
	Time metav1.Time `json:"time"`
	// Fields is a digest of the fields that kfed's field manager owned in
	// the member's object right after the write. Another writer that
	// changes or removes one of them takes it over, which changes the
	// digest: an apply that finds the recorded digest in the member, and
	// the content digest it would send, knows that nothing needs writing.
	// +optional
	Fields string `json:"fields,omitempty"`
}

// Actions recorded in ClusterResult.
const (
	ActionCreated         = "created"
	ActionConfigured      = "configured"
	ActionUnchanged       = "unchanged"
	ActionDeleted         = "deleted"
	ActionFailed          = "failed"
	ActionPendingDeletion = "pending-deletion"
	// ActionPending is recorded before the object is written to the
	// member, and replaced by the outcome once the member answers: a
	// record left pending means the member may or may not hold it.
	ActionPending = "pending"
)

// FederatedObjectList is a list of FederatedObjects.
//
// +kubebuilder:object:root=true
type FederatedObjectList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []FederatedObject `json:"items"`
}
