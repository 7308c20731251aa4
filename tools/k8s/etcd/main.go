// Command etcd is etcd's own server entry point, built as a dependency so the
// version is pinned by this module's go.mod/go.sum (see tools/k8s/README.md).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
