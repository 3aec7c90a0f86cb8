// Command pause is the lab's pod sandbox program: the first process of every
// pod on a real lab node. It holds the pod's namespaces open, reaps the
// zombies that other containers of the pod leave when it is their init, and
// exits on SIGINT or SIGTERM. registry.k8s.io cannot be reached from the lab's
// machines, so the lab builds this instead of pulling registry.k8s.io/pause.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
