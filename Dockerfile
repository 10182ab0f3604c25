# Gavel's container image, used by docker-compose.yml.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json drizzle.config.ts ./
COPY drizzle ./drizzle
COPY src ./src
# One bundle run by plain node: no TypeScript loader (and its ~30 MB) at run time. The flags are
# npm start's (see README "Performance": a smaller young generation keeps RSS lower and steadier).
RUN npm run build
EXPOSE 3000
USER node
CMD ["node", "--enable-source-maps", "--max-semi-space-size=32", "--heap-growing-percent=50", "dist/main.js"]
