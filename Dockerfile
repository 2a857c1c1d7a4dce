# Pullgate image: build the server and the admin UI with the Node.js image, then run on Debian slim with only the node
# binary, the production dependencies, the compiled server and the built UI (docs/operating.md, "The container image").
# NODE_IMAGE and RUNTIME_IMAGE let a build without Docker Hub use locally assembled bases (scripts/verify-image.sh).
# Keep both on the same Debian release; the Node.js version is the one CI tests (scripts/node-env.sh).
ARG NODE_IMAGE=node:24.21.0-trixie-slim
ARG RUNTIME_IMAGE=debian:13.7-slim

FROM ${NODE_IMAGE} AS build
# The same path as in the runtime stage: the compile cache made below is keyed by file path.
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts, so no compiler: better-sqlite3 ships its compiled module for each platform (prebuilds/) and
# esbuild's binary comes in its platform package.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY web ./web
# The server into dist/, the admin UI into web/dist/; then only what runs stays: production dependencies without
# their tests, documents, type declarations or source maps, and without better-sqlite3's C sources and other
# platforms' modules.
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/*/test node_modules/*/tests node_modules/*/.github \
      node_modules/@*/*/test node_modules/@*/*/tests node_modules/@*/*/.github \
 && find node_modules -type f -name '*.md' ! -iname 'licen[cs]e*' -delete \
 && find node_modules dist -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete \
 && rm -rf node_modules/better-sqlite3/deps node_modules/better-sqlite3/src node_modules/better-sqlite3/build \
 && find node_modules/better-sqlite3/prebuilds -type f ! -name "linux-$(node -p process.arch).node" -delete \
 && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"
# V8's compiled code for every module the server loads, so that a container starts without compiling them again.
# Made as the runtime user: node keeps one cache per user id.
ENV NODE_COMPILE_CACHE=/app/compile-cache
RUN mkdir compile-cache && chown 10001:10001 compile-cache
USER 10001:10001
RUN node dist/src/main.js --version

FROM ${RUNTIME_IMAGE}
# The registry listens on :5000 by default; a config file's listen.http is not overridden here.
ENV NODE_ENV=production \
    NODE_COMPILE_CACHE=/app/compile-cache \
    PULLGATE_DATA_DIR=/var/lib/pullgate \
    PULLGATE_HEALTHCHECK_URL=http://127.0.0.1:5000/healthz
# A fixed, unprivileged uid so that volumes and mounted certificates can be owned by it on the host.
RUN groupadd --system --gid 10001 pullgate \
 && useradd --system --uid 10001 --gid pullgate --home-dir /var/lib/pullgate --no-create-home --shell /usr/sbin/nologin pullgate \
 && mkdir -p /var/lib/pullgate /etc/pullgate \
 && chown pullgate:pullgate /var/lib/pullgate && chmod 0700 /var/lib/pullgate
# The node binary alone: npm, yarn, corepack and the C headers of the Node.js image are for building.
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The admin listener serves the UI from web/dist next to package.json (src/admin/admin-server.ts).
COPY --from=build /app/web/dist ./web/dist
# Read-only for the server's user: node reads it and, when a module is missing from it, goes on without writing.
COPY --from=build /app/compile-cache ./compile-cache
USER pullgate
VOLUME ["/var/lib/pullgate"]
# Registry over HTTP, registry over HTTPS, admin.
EXPOSE 5000 5443 5001
# No curl in the slim image: node asks the registry listener's /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.PULLGATE_HEALTHCHECK_URL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The server gives itself its memory settings (glibc malloc's and V8's young generation's) when it starts: it runs
# itself again with them, same pid (src/cli/memory-settings.ts, docs/operating.md#memory).
ENTRYPOINT ["node", "/app/dist/src/main.js"]
CMD ["serve"]
