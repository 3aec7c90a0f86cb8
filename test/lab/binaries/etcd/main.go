// Command etcd is the etcd server, built at the version Kubernetes pins, for the
// kfed lab.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
