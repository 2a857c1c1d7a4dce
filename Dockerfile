# Pullgate image: build the TypeScript and better-sqlite3's native module in one stage, run from a slim one.
# NODE_IMAGE lets a build without Docker Hub use a locally assembled base (scripts/verify-image.sh does).
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
# better-sqlite3 compiles from source when no prebuilt binary can be fetched; node-gyp then uses the base
# image's own headers instead of downloading them.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# Only the compiled module of better-sqlite3 is needed at run time, not its sources and objects.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund \
 && find node_modules/better-sqlite3/build -type f ! -name better_sqlite3.node -delete \
 && rm -rf node_modules/better-sqlite3/deps node_modules/better-sqlite3/src

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    PULLGATE_DATA_DIR=/var/lib/pullgate \
    PULLGATE_LISTEN_HTTP=:5000 \
    PULLGATE_HEALTHCHECK_URL=http://127.0.0.1:5000/healthz
# A fixed, unprivileged uid so that volumes and mounted certificates can be owned by it on the host.
RUN groupadd --system --gid 10001 pullgate \
 && useradd --system --uid 10001 --gid pullgate --home-dir /var/lib/pullgate --no-create-home --shell /usr/sbin/nologin pullgate \
 && mkdir -p /var/lib/pullgate /etc/pullgate \
 && chown pullgate:pullgate /var/lib/pullgate
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
USER pullgate
VOLUME ["/var/lib/pullgate"]
# Registry over HTTP, registry over HTTPS, admin.
EXPOSE 5000 5443 5001
# No curl in the slim image: node asks the registry listener's /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.PULLGATE_HEALTHCHECK_URL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/src/main.js"]
CMD ["serve"]
