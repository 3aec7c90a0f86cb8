//go:build e2e

// Package security tests what kfed trusts and what it gives away, as an
// attacker and a hostile user would try it: credentials planted in
// Secrets, secret values in output and logs at every verbosity, what each
// identity kfed creates may do, and hostile manifests and flags. The real
// kubectl runs the plugin against a lab of three real clusters joined into
// one federation, magicring, with usa as the host.
//
// The tests share the lab and the federation. Each file owns its helpers,
// named after the file's concern, and a test that changes the federation
// puts it back before it ends.
package security

import (
	"os"
	"testing"

	"github.com/kfed-dev/kfed/test/e2e/framework"
	"github.com/kfed-dev/kfed/test/lab"
)

const hostCtx = "usa"

var (
	testLab *lab.Lab
	kubectl *framework.Kubectl
	members = []string{"eur", "jpn", "usa"}
)

func TestMain(m *testing.M) {
	os.Exit(framework.RunFederated(m, "security", hostCtx, members, func(l *lab.Lab, k *framework.Kubectl) {
		testLab, kubectl = l, k
	}))
}
