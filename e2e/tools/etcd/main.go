// Command etcd is etcd 3.6's own server, built from the module proxy for the local mesh.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
