# The hoist-manager image: the static manager binary on an empty base, run as
# uid 1000 with no shell and nothing else. It needs no registry and no Go
# image: the binary is built on the host first.
#
#   make build && deploy/build-image.sh      # also adds the host's CA roots
#   make build ARCH=arm64 && deploy/build-image.sh --arch arm64   # a Pi's (README)
#   make build && docker build -t hoist-manager .   # binary only
#
# The CA roots (bin/ca-certificates.crt, copied from the host by
# deploy/build-image.sh) let the manager read https:// release repositories;
# without them only file://, http:// and ssh:// URLs work.
FROM scratch
COPY bin/ /
ENV SSL_CERT_FILE=/ca-certificates.crt
USER 1000:1000
EXPOSE 3006
# compose.yaml mounts statuses/, events/signals/ and info.json under /app.
ENTRYPOINT ["/hoist-manager", "--root", "/app"]
CMD ["--listen", ":3006", "--token-file", "/run/secrets/hoist_token"]
