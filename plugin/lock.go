package plugin

import (
	"context"
	"fmt"
	"io"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/fedlock"
)

// lock takes the federation's lock (pkg/fedlock) for a command that writes
// members or records, and returns what releases it. A second such command
// on the federation fails at once, naming the first; read-only commands
// (diff, get, clusters) and dry runs take no lock. A lock lost while the
// command ran, or one that cannot be released, is reported on errOut: the
// command's own outcome stands, and the lock frees itself in time.
func (fs *fedSession) lock(ctx context.Context, command string, errOut io.Writer) (release func(), err error) {
	client, err := kubernetes.NewForConfig(fs.store.Config)
	if err != nil {
		return nil, err
	}
	l, err := fedlock.Acquire(ctx, client, v1alpha1.Namespace, fs.federation.Name, fedlock.Holder(command))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fs.federation.Name, err)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := l.Release(ctx); err != nil {
			fmt.Fprintf(errOut, "Warning: the lock of federation %s: %v\n", fs.federation.Name, err)
		}
	}, nil
}
