// Package raspi tests what Raspberry Pi nodes depend on: the cross-built
// arm64 and armv7 binaries (make build ARCH=...) run under Debian's
// qemu-user-static through a whole update cycle, and the per-architecture
// manager image is labelled for its platform.
//
// The package has no code of its own beyond this comment: everything is in
// its _test.go files. Tests skip, with the reason, only when qemu-user-static
// (installed by .ci/run) or Docker is missing.
package raspi
