package framework

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/kfed-dev/kfed/test/lab"
)

// StartLab starts a lab for one test package, in a directory of its own
// under the system's temporary directory, logging progress to stderr. Stop
// it when the package's tests are done: TestMain is the place. The
// directory is left behind for its logs.
func StartLab(name string, clusters []lab.ClusterSpec) (*lab.Lab, error) {
	return startLabOptions(name, lab.Options{Clusters: clusters})
}

// CoreDNSFedImageEnv names the environment variable that holds the path of
// the coredns-fed image archive that real lab nodes import: `make e2e`
// builds it with `make lab-image` and sets it.
const CoreDNSFedImageEnv = "KFED_COREDNS_FED_IMAGE"

// RealPodsUnsupported returns nil when the tests of real pods can run here,
// and otherwise an error that says what is missing and how to get it: root,
// Debian's containerd, runc and CNI plugins, the lab's kubelet, and the
// coredns-fed image.
func RealPodsUnsupported() error {
	if err := lab.RealNodesUnsupported(""); err != nil {
		return err
	}
	path := os.Getenv(CoreDNSFedImageEnv)
	if path == "" {
		return fmt.Errorf("$%s names no coredns-fed image archive: run the tests with `make e2e`, or run `make lab-image` and set %s=%s", CoreDNSFedImageEnv, CoreDNSFedImageEnv, "$PWD/.cache/lab-image/coredns-fed-oci.tar")
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("the coredns-fed image archive of $%s: %w (`make lab-image` writes it)", CoreDNSFedImageEnv, err)
	}
	return nil
}

// realPodsSkip is why the package's lab has no real nodes, when it asked
// for them and the machine cannot run them.
var realPodsSkip error

// SkipWithoutRealPods skips t when its package asked for real nodes and the
// machine cannot run them, saying what is missing.
func SkipWithoutRealPods(t testing.TB) {
	t.Helper()
	if realPodsSkip != nil {
		t.Skipf("skipping: it runs coredns-fed in real pods, and %v", realPodsSkip)
	}
}

// startLabOptions starts a lab for one test package as StartLab does, with
// opts.Dir and opts.Log filled in.
func startLabOptions(name string, opts lab.Options) (*lab.Lab, error) {
	dir, err := os.MkdirTemp("", "kfed-e2e-"+name+"-")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	opts.Dir, opts.Log = dir, os.Stderr
	l, err := lab.Start(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("starting the lab in %s: %w", dir, err)
	}
	return l, nil
}

// StopLab stops a package's lab. Its directory goes too when the tests
// passed and the lab stopped cleanly; otherwise it stays for its logs, and
// the path is printed.
func StopLab(l *lab.Lab, passed bool) {
	err := l.Stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "stopping the lab:", err)
	}
	if passed && err == nil {
		os.RemoveAll(l.Dir)
		return
	}
	fmt.Fprintln(os.Stderr, "the lab's logs are in", l.Dir)
}
