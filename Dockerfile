# syntax=docker/dockerfile:1
# One image for the peer and the operator: `zkensemble` is the entrypoint, so
#   podman run IMAGE peer /etc/zkensemble/zoo.cfg      (the default command)
#   podman run IMAGE operator
# BASE defaults to the official Node 24 slim image. Where no container registry is reachable,
# e2e/podman/build-image.sh builds a local stand-in (e2e/podman/build-base.sh) and passes it here.
ARG BASE=node:24-bookworm-slim

FROM ${BASE} AS deps
# An npm registry other than npm's default, and a CA bundle for a TLS-intercepting proxy, are given at
# build time (a build arg and a build secret), so neither is written here nor left in a layer of the
# final image.
ARG NPM_REGISTRY=
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only: the devDependencies include a whole Node binary for the repository's
# own use, and the image has its own Node 24. npm 11 can refuse a lock file that lacks optional
# packages of other platforms (as .ci/run notes); `npm install` then still follows the lock file.
# Type declarations and source maps are not needed to run (a third of @kubernetes/client-node).
RUN --mount=type=secret,id=npm_ca,required=false \
    if [ -s /run/secrets/npm_ca ]; then export NPM_CONFIG_CAFILE=/run/secrets/npm_ca; fi; \
    if [ -n "$NPM_REGISTRY" ]; then export NPM_CONFIG_REGISTRY="$NPM_REGISTRY"; fi; \
    set -- --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error; \
    { npm ci "$@" || npm install "$@"; } && rm -rf /root/.npm \
 && find node_modules -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete

FROM ${BASE} AS build
# The image runs JavaScript compiled from the sources, not the sources through Node's type stripper,
# which costs every process about 18 MiB of resident memory. Emitting needs only the TypeScript
# compiler (tsconfig.build.json does not type-check: `npm run typecheck` does that), at the version
# package.json pins.
ARG NPM_REGISTRY=
WORKDIR /app
COPY package.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY peer ./peer
COPY operator ./operator
RUN --mount=type=secret,id=npm_ca,required=false \
    if [ -s /run/secrets/npm_ca ]; then export NPM_CONFIG_CAFILE=/run/secrets/npm_ca; fi; \
    if [ -n "$NPM_REGISTRY" ]; then export NPM_CONFIG_REGISTRY="$NPM_REGISTRY"; fi; \
    mkdir /tsc && cd /tsc && echo '{}' > package.json \
 && npm install --ignore-scripts --no-audit --no-fund --loglevel=error \
      "typescript@$(node -p 'require("/app/package.json").devDependencies.typescript')" \
 && cd /app && node /tsc/node_modules/typescript/bin/tsc -p tsconfig.build.json \
 && mkdir -p dist/bin && cp bin/zkensemble dist/bin/

FROM ${BASE}
ENV NODE_ENV=production LOG_LEVEL=info
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# Code is owned by root: the server cannot change its own code. .dockerignore keeps tests out.
COPY package.json ./
COPY --from=build /app/dist/ ./
# A standalone default, so `podman run IMAGE` serves; an ensemble mounts its own zoo.cfg (and myid in
# /data) over these.
RUN ln -s /app/bin/zkensemble /usr/local/bin/zkensemble \
 && mkdir -p /etc/zkensemble /data \
 && printf '%s\n' 'tickTime=2000' 'dataDir=/data' 'clientPort=2181' \
      '4lw.commands.whitelist=srvr,ruok,mntr,stat,conf' > /etc/zkensemble/zoo.cfg \
 && chown 1000:1000 /data
# Numeric, so Kubernetes can check runAsNonRoot (it cannot resolve a user name).
USER 1000:1000
# client, quorum, election, admin/metrics
EXPOSE 2181 2888 3888 8080
ENTRYPOINT ["zkensemble"]
CMD ["peer", "/etc/zkensemble/zoo.cfg"]
