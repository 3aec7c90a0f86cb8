//go:build tools

// Package tools pins krew, built from its own module so that kfed's go.mod
// never depends on it: the end-to-end tests install kubectl-fed from a
// release with krew itself, and check the manifest with krew's validator.
//
//	go build -o DIR/kubectl-krew sigs.k8s.io/krew/cmd/krew
//	go build -o DIR/ sigs.k8s.io/krew/cmd/validate-krew-manifest
package tools

import (
	_ "sigs.k8s.io/krew/cmd/krew"
	_ "sigs.k8s.io/krew/cmd/validate-krew-manifest"
)
