# The image `aurax-tool k8s job --image` runs (docs/distributed.md): aurax-tool as the
# entrypoint, as a non-root user, on a slim base. rustls (ring) needs no OpenSSL; the CA
# certificates are for https targets.
#   docker build --build-arg AURAX_COMMIT=$(git rev-parse --short=12 HEAD) -t aurax-tool:0.1.0 .
#   docker run --rm aurax-tool:0.1.0 run --host http://aurax:8000 --profile light -t 30s
FROM rust:1.88-bookworm AS build
# The commit the report's run header names (.git is not in the build context).
ARG AURAX_COMMIT=""
ENV AURAX_COMMIT=${AURAX_COMMIT}
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin aurax-tool \
    && strip target/release/aurax-tool

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --create-home --shell /usr/sbin/nologin aurax
COPY --from=build /src/target/release/aurax-tool /usr/local/bin/aurax-tool
USER 10001
WORKDIR /home/aurax
ENTRYPOINT ["aurax-tool"]
CMD ["--help"]
