// Command geodb writes the demo's city database: the documentation
// ranges placed in Tokyo, Dublin and Ashburn (see test/geodb).
//
//	go run ./test/demo/geodb PATH
package main

import (
	"fmt"
	"os"

	"github.com/kfed-dev/kfed/test/geodb"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: geodb PATH")
		os.Exit(2)
	}
	if err := geodb.Write(os.Args[1], geodb.Lab()); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
