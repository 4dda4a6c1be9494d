# syntax=docker/dockerfile:1
# envoy-bandit: the sidecar (`serve`) and the aggregator (`aggregator`) in one image.
#   docker build -t envoy-bandit .
#   docker run --rm -v $PWD/examples:/cfg envoy-bandit validate --config /cfg/minimal.yaml
# (The demo needs Envoy and runs from a checkout: `npm run demo`.)

# Node 22 LTS (maintained until April 2027), pinned by digest: the same bytes on every build.
# Node 24's image bundles npm 11, which rejects this lockfile; 22 bundles npm 10.
# Refresh with: docker buildx imagetools inspect node:22-bookworm-slim (the index digest).
ARG NODE_IMAGE=node:22-bookworm-slim@sha256:43ac6c60b8f89723f746e8a92ce91abd5017e627ce1ddfe4238355d3a30b772c

# ---- build: compile TypeScript to dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
RUN npm run build

# ---- runtime: production dependencies, compiled code, protos, Envoy configs ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist/src ./dist/src
COPY bin ./bin
COPY LICENSE CHANGELOG.md ./
COPY proto ./proto
COPY envoy ./envoy
COPY examples ./examples
RUN chmod 0755 /app/bin/envoy-bandit.js \
 && ln -s /app/bin/envoy-bandit.js /usr/local/bin/envoy-bandit \
 && groupadd --gid 10001 bandit \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin bandit \
 && mkdir -p /var/lib/envoy-bandit && chown 10001:10001 /var/lib/envoy-bandit
USER 10001:10001
# ext_proc, admin (healthz, readyz, metrics), gossip, aggregator
EXPOSE 50051 9464 7946 50061
# The admin port the probe asks; set ADMIN_PORT when the config moves it.
ENV ADMIN_PORT=9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.ADMIN_PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
LABEL org.opencontainers.image.title="envoy-bandit" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="node:22-bookworm-slim"
ENTRYPOINT ["envoy-bandit"]
CMD ["--help"]
