# One image for api, worker and sftp; docker-compose.yml picks the entrypoint.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm install, not npm ci: the lock file holds only the Linux builds of optional native packages.
RUN npm install --no-audit --no-fund
COPY tsconfig.json ./
COPY apps apps
COPY activities activities
COPY workflows workflows
COPY lib lib
COPY scripts scripts
COPY test test
COPY bench bench
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/package.json package.json
# Migrations are read as .sql files at run time.
COPY lib/db/migrations lib/db/migrations
# DATA_DIR and its folders, owned by the user the apps run as: a named volume mounted on one of them
# starts as a copy of it, so the apps can write there.
RUN mkdir -p /data/sftp /data/sftp-host-keys /data/artifacts && chown -R node:node /data
USER node
CMD ["node", "dist/apps/api/main.js"]
