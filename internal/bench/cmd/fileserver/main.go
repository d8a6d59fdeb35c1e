// Command fileserver is the baseline of hoistbench's manager benchmark: the
// least a Go HTTP server can do to answer GET /v1/system/update-status from
// a status file, http.ServeFile reading the file on each request.
//
//	fileserver ADDR FILE
//
// It prints "listening ADDR" once it accepts connections.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: fileserver ADDR FILE")
		os.Exit(2)
	}
	file := os.Args[2]
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "fileserver:", err)
		os.Exit(1)
	}
	fmt.Println("listening", ln.Addr())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/system/update-status", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, file)
	})
	fmt.Fprintln(os.Stderr, "fileserver:", http.Serve(ln, mux))
	os.Exit(1)
}
