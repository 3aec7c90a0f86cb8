package plugin

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/resource"
)

// readWhileOpening reads the manifests of an apply and opens its session
// at the same time. Reading is processor work, parsing YAML, and opening
// is mostly waiting on the host and the members; one after the other,
// the parse of 200 objects held back the first request to the host by
// 10 to 15 ms. Input that cannot be read is reported as before, without
// waiting for the session, which is abandoned.
func readWhileOpening(ctx context.Context, host *hostFlags, files *resource.FilenameOptions, federation string, timeout time.Duration) ([]*unstructured.Unstructured, *fedSession, error) {
	// openSession leaves nothing running on its context once it returns.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type opened struct {
		fs  *fedSession
		err error
	}
	session := make(chan opened, 1)
	go func() {
		fs, err := openSession(ctx, host, federation, timeout)
		session <- opened{fs, err}
	}()
	objs, err := readObjects(host, files)
	if err != nil {
		return nil, nil, explainRead(err)
	}
	s := <-session
	return objs, s.fs, s.err
}
