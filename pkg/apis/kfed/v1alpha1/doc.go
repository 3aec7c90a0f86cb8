// Package v1alpha1 holds the kfed.dev/v1alpha1 API: the kinds kfed keeps in
// the host cluster's namespace kfed-system, which is the federation's only
// store.
//
// The deepcopy functions and the CRDs in deploy/crds are generated from
// these types and their markers; run `go generate ./pkg/apis/...` after
// changing them.
//
// +kubebuilder:object:generate=true
// +groupName=kfed.dev
//
//go:generate go run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.20.1 object crd paths=./ output:crd:dir=../../../../deploy/crds
package v1alpha1
