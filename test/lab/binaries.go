package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// BinDirEnv names the environment variable that points at the lab's
// programs, overriding the search of FindBinDir.
const BinDirEnv = "KFED_LAB_BIN"

// binaries are the paths of the programs a lab runs.
type binaries struct {
	dir                                                 string
	etcd, apiserver, controllerManager, scheduler, kwok string
	kubectl                                             string
	// kubelet, pause and hello (the sample app) run real nodes; they are
	// checked only when a cluster has real nodes.
	kubelet, pause, hello string
}

// FindBinDir returns the directory of the lab's programs: $KFED_LAB_BIN if
// set, else .cache/lab/current in the nearest directory, from the working
// directory up, that has one. `make lab-bin` builds them there.
func FindBinDir() (string, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		return filepath.Abs(dir)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		candidate := filepath.Join(dir, ".cache", "lab", "current")
		if st, err := os.Stat(candidate); err == nil && st.IsDir() {
			return filepath.EvalSymlinks(candidate)
		}
		if parent := filepath.Dir(dir); parent == dir {
			break
		}
	}
	return "", errors.New("lab programs not found: run `make lab-bin` in the kfed checkout, or set " + BinDirEnv + " to their directory")
}

func findBinaries(dir string) (binaries, error) {
	if dir == "" {
		var err error
		if dir, err = FindBinDir(); err != nil {
			return binaries{}, err
		}
	}
	b := binaries{
		dir:               dir,
		etcd:              filepath.Join(dir, "etcd"),
		apiserver:         filepath.Join(dir, "kube-apiserver"),
		controllerManager: filepath.Join(dir, "kube-controller-manager"),
		scheduler:         filepath.Join(dir, "kube-scheduler"),
		kwok:              filepath.Join(dir, "kwok"),
		kubectl:           filepath.Join(dir, "kubectl"),
		kubelet:           filepath.Join(dir, "kubelet"),
		pause:             filepath.Join(dir, "pause"),
		hello:             filepath.Join(dir, "hello"),
	}
	for _, p := range []string{b.etcd, b.apiserver, b.controllerManager, b.scheduler, b.kwok, b.kubectl} {
		if _, err := os.Stat(p); err != nil {
			return binaries{}, fmt.Errorf("lab program %s is missing: run `make lab-bin` to build it", p)
		}
	}
	return b, nil
}
