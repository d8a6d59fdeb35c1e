// Command hoist-manager serves the HTTP API and web page (CONTRACT §7).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "hoist-manager: not implemented yet")
	os.Exit(1)
}
