//go:build e2e

// Package lab_test checks the lab itself: real clusters, a data path through
// the loopback load balancer, and the faults that later tests rely on.
package lab_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/kfed-dev/kfed/test/lab"
)

// shared is the lab every test in this package uses: three clusters, as
// `make lab-up` starts them.
var shared *lab.Lab

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kfed-e2e-lab-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	shared, err = lab.Start(ctx, lab.Options{Dir: dir, Log: os.Stderr})
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the lab: %v\n(logs in %s)\n", err, dir)
		return 1
	}
	code := m.Run()
	if err := shared.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "stopping the lab: %v\n", err)
		code = 1
	}
	if code == 0 {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintf(os.Stderr, "lab logs kept in %s\n", dir)
	}
	return code
}
