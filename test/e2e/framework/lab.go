package framework

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/kfed-dev/kfed/test/lab"
)

// StartLab starts a lab for one test package, in a directory of its own
// under the system's temporary directory, logging progress to stderr. Stop
// it when the package's tests are done: TestMain is the place. The
// directory is left behind for its logs.
func StartLab(name string, clusters []lab.ClusterSpec) (*lab.Lab, error) {
	dir, err := os.MkdirTemp("", "kfed-e2e-"+name+"-")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	l, err := lab.Start(ctx, lab.Options{Dir: dir, Clusters: clusters, Log: os.Stderr})
	if err != nil {
		return nil, fmt.Errorf("starting the lab in %s: %w", dir, err)
	}
	return l, nil
}
