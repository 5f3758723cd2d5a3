# Build stage: dev dependencies, type check, the bundle with the uWebSockets.js binary for this image's
# Node.js beside it (--this-node: the runtime stage has that Node alone).
FROM node:24-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json build.mjs ./
COPY src ./src
RUN npx tsc -p . && npm run build -- --this-node

# Runtime: the bundle alone (no node_modules) on Node.js 24 LTS and Debian 13, whose glibc (2.41) loads
# uWebSockets.js 20.57's binary (bookworm's 2.36 does not), as the unprivileged node user. The database is
# DATABASE_URL's (docker-compose.yml wires it to its PostgreSQL). Arguments go to the bundle: `agent ...` runs the
# agent instead of the server, its spool in /app/agent-spool (a volume in docker-compose.yml).
FROM node:24-trixie-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=5000
COPY --from=build /app/dist/server.js /app/dist/uws_*.node ./
RUN mkdir /app/agent-spool && chown node:node /app /app/agent-spool
USER node
EXPOSE 5000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s CMD node -e "fetch('http://127.0.0.1:5000/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
ENTRYPOINT ["node", "--max-semi-space-size=8", "--heap-growing-percent=20", "server.js"]
