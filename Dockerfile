# One image for predict, batch and proxy; docker-compose.yml picks the service with `command`.

FROM node:20-bookworm-slim AS build
WORKDIR /app

# Manifests first, so editing source does not invalidate the npm ci layer.
COPY package.json package-lock.json .npmrc ./
COPY shared/package.json shared/
COPY config/package.json config/
COPY web/package.json web/
COPY proxy/package.json proxy/
COPY batch/package.json batch/
COPY predict/package.json predict/
COPY clients/package.json clients/
# npm links a bin only when its file exists at install time.
COPY clients/bin clients/bin
# The image's npm (10) ignores package.json's allowScripts; this variable makes onnxruntime-node's
# postinstall skip its CUDA download there too (the image runs on CPU).
ENV ONNXRUNTIME_NODE_INSTALL=skip
RUN npm ci --no-audit --no-fund

COPY tsconfig.base.json ./
COPY shared shared
COPY config config
COPY web web
COPY proxy proxy
COPY batch batch
COPY predict predict
COPY clients clients
# Only the packages: the integration tests under test/ are not part of the image.
RUN npx tsc --build shared config web proxy batch predict clients \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf */src */tsconfig.json */*.tsbuildinfo tsconfig.base.json \
 && find . -path ./node_modules -prune -o \( -name '*.test.js' -o -name '*.test.js.map' -o -name '*.test.d.ts' -o -name '*.test.d.ts.map' \) -print0 | xargs -0 rm -f \
 && test -s predict/models/cutout-border.onnx && test -s predict/models/cutout-graphcut-upscale.onnx

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and only readable by the service user: nothing in the image is meant to change at run time.
COPY --from=build /app /app
USER node
EXPOSE 5000 5001
CMD ["node", "proxy/dist/main.js"]
