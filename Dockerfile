# Multi-stage build: compile in the Rust image, run in a small Debian one as a non-root user.
FROM rust:1-bookworm AS build
WORKDIR /src
# The dependencies first, in a layer of their own: built against an empty crate, so a
# change to sluice's sources rebuilds sluice alone, not every dependency.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo "fn main() {}" > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked --bin sluice \
    && rm -rf src target/release/.fingerprint/sluice-* target/release/deps/sluice-* \
        target/release/deps/libsluice-*
COPY src ./src
COPY config ./config
RUN cargo build --release --locked --bin sluice

FROM debian:bookworm-slim
# uid 10001 owns /data. A bind-mounted host directory must be writable by it: either
# `chown 10001 DIR` on the host, or run as the directory's owner (`--user "$(id -u)"`).
RUN useradd --system --uid 10001 --home-dir /data sluice \
    && mkdir -p /data /etc/sluice && chown sluice /data
COPY --from=build /src/target/release/sluice /usr/local/bin/sluice
COPY config/sluice.toml /etc/sluice/sluice.toml
USER sluice
VOLUME ["/data"]
EXPOSE 8000
# Listen on every interface inside the container; data on the /data volume. Set as
# environment, not flags: flags would win over a `docker run -e SLUICE_...` of the same key.
ENV SLUICE_SERVER_LISTEN=0.0.0.0:8000 SLUICE_STORAGE_DATA_DIR=/data
ENTRYPOINT ["/usr/local/bin/sluice", "--config", "/etc/sluice/sluice.toml"]
HEALTHCHECK --interval=10s --timeout=3s CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8000 && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ok <&3"]
