# syntax=docker/dockerfile:1
# One image for the peer (and, later, the operator). BASE defaults to the official Node 24 slim image;
# tests pass a locally built base because no registry is reachable there.
ARG BASE=node:24-bookworm-slim

FROM ${BASE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; the pinned Node dev dependency is not needed inside the image,
# whose own Node is 24.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM ${BASE}
WORKDIR /app
ENV NODE_ENV=production LOG_LEVEL=info
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY peer ./peer
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 2181 2888 3888 8080
ENTRYPOINT ["node", "bin/zkensemble"]
CMD ["peer", "/conf/zoo.cfg"]
