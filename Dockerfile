# syntax=docker/dockerfile:1
# auth-core container image: built in a full Rust image, run on debian:bookworm-slim with only the
# shared libraries the binary links. Build: docker build --build-arg GIT_COMMIT=$(git rev-parse --short HEAD) -t auth-core .
# Both stages are Debian 12 (bookworm): the binary links the libraries of the release it was built on.

# The lockfile needs Rust 1.95 (parking_lot 0.13); the official image tag names the Debian release.
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
# libpq-dev: diesel's PostgreSQL backend links libpq. SQLite is compiled in (libsqlite3-sys bundled)
# and TLS to Clerk is rustls on aws-lc, built by cargo with the image's C compiler.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The commit `auth-core --version` prints: .git is not in the build context (.dockerignore).
ARG GIT_COMMIT=unknown
ENV AUTH_CORE_GIT_COMMIT=${GIT_COMMIT}
# Cache mounts keep the registry and compiled dependencies between builds; the binary is copied out
# of the cache mount so that the next stage can take it.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin auth-core \
 && install -D -m 0755 target/release/auth-core /out/auth-core

FROM debian:bookworm-slim AS runtime
# Exactly the packages of the shared libraries `ldd auth-core` resolves that bookworm-slim lacks:
# libpq5 and the libraries it links (OpenSSL, Kerberos/GSSAPI, LDAP, SASL). tests/deploy.rs checks
# this list against the binary, so a library can be neither missing nor extra.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpq5 \
      libssl3 \
      libgssapi-krb5-2 \
      libkrb5-3 \
      libk5crypto3 \
      libkrb5support0 \
      libkeyutils1 \
      libldap-2.5-0 \
      libsasl2-2 \
 && rm -rf /var/lib/apt/lists/*
# A fixed, unprivileged account (no login shell, no home) owning only the data directory.
RUN groupadd --system --gid 10001 auth-core \
 && useradd --system --uid 10001 --gid auth-core --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin auth-core \
 && install -d -o auth-core -g auth-core -m 0700 /data
COPY --from=build /out/auth-core /usr/local/bin/auth-core

# Inside the container the server must listen on every interface; the embedded SQLite database (and
# nothing else) is written to the /data volume. Every other setting comes from the environment
# (docs/configuration.md), e.g. DATABASE_URL for PostgreSQL and SECRET_KEY.
ENV AUTH_CORE__SERVER__BIND=0.0.0.0:8000 \
    AUTH_CORE__DATABASE__DATA_DIR=/data \
    AUTH_CORE__LOG__FORMAT=json
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 8000
# The binary probes /healthz on its own bind address (auth-core healthcheck): no curl in the image.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
  CMD ["auth-core", "healthcheck", "--timeout-secs", "5"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["auth-core"]
CMD ["serve"]
