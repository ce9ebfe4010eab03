# Build: compile TypeScript once, then ship only what runs.
# Node 24: the Active LTS line (supported until April 2028); Node 20 reached its end of life in April 2026.
FROM node:24-bookworm-slim AS build
WORKDIR /app
# The verifier package is an npm workspace: npm ci needs its package.json, the build its source.
COPY package.json package-lock.json ./
COPY packages/verifier/package.json ./packages/verifier/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY packages/verifier ./packages/verifier
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
# Reachable from outside the container; outside production the API defaults to localhost.
ENV HOST=0.0.0.0
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
# node_modules/@revocable-auth/verifier is a symlink to this folder.
COPY --from=build /app/packages/verifier/package.json ./packages/verifier/
COPY --from=build /app/packages/verifier/dist ./packages/verifier/dist
COPY --from=build /app/dist ./dist
# The mail templates (MAIL_TEMPLATES_DIR to use your own) and the hosted pages' stylesheet and script, read at start.
COPY templates ./templates
# The Postgres schema's migrations: applied at start with MIGRATE=on, or by node dist/cli/migrate.js.
COPY migrations ./migrations
COPY package.json ./
USER node
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||4000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/index.js"]
