// Command hoist-supervisor watches events/signals/ and runs triggers (CONTRACT §6).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "hoist-supervisor: not implemented yet")
	os.Exit(1)
}
