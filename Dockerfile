# syntax=docker/dockerfile:1
# switchyard container image: multi-stage build, small non-root runtime.
#
#   docker build -t switchyard .
#   docker run --rm -p 4000:4000 switchyard                 # embedded mock config
#   docker run --rm -p 4000:4000 -v $PWD/config.yaml:/etc/switchyard/config.yaml \
#       -e OPENAI_API_KEY switchyard --config /etc/switchyard/config.yaml
#   docker run --rm switchyard check --config /etc/switchyard/default.yaml
#
# The entrypoint is the binary, so arguments after the image name replace the default
# `--host 0.0.0.0 --port 4000` and are switchyard's. The example configs from config/ are in
# /etc/switchyard/. With your own arguments, host and port come from SWITCHYARD_HOST and
# SWITCHYARD_PORT (0.0.0.0:4000): to move the port, pass -e SWITCHYARD_PORT=... (the health check
# reads it too) rather than --port.

ARG RUST_IMAGE=rust:1-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# --- build -------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS builder
WORKDIR /src
# The whole context minus .dockerignore: Cargo.toml names bench (and maybe test) targets whose
# files must exist for cargo to read the manifest.
COPY . .
# Cache mounts keep the crate registry and build artefacts between builds (BuildKit); the
# binary is copied out of the cached target dir. --strip-debug drops the line tables
# (profile.release debug = "line-tables-only"): ~36 MB -> ~9 MB.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin switchyard \
    && install -D -m 0755 target/release/switchyard /out/switchyard \
    && strip --strip-debug /out/switchyard \
    && /out/switchyard check

# --- runtime -----------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE}
# TLS roots are compiled in (webpki-roots): no ca-certificates, no curl. Installed: bubblewrap, the
# exec tools' sandbox (docs/sandbox.md; the container then needs namespaces allowed, e.g.
# `--security-opt seccomp=unconfined --security-opt apparmor=unconfined`, only if exec tools are
# enabled), and python3 for exec_python. prlimit (util-linux) is in the base image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap python3 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 10001 switchyard \
    && useradd --uid 10001 --gid switchyard --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin switchyard
COPY --from=builder /out/switchyard /usr/local/bin/switchyard
COPY config/ /etc/switchyard/
USER 10001:10001
WORKDIR /tmp
ENV SWITCHYARD_HOST=0.0.0.0 \
    SWITCHYARD_PORT=4000
EXPOSE 4000
# No curl in the image: bash (always in Debian) speaks HTTP/1.1 over /dev/tcp to the liveness
# endpoint and requires a 200 status line. Liveness, not readiness: a provider outage (every
# deployment cooled down -> readiness 503) must not get the container restarted.
HEALTHCHECK --interval=15s --timeout=5s --start-period=5s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${SWITCHYARD_PORT:-4000} && printf 'GET /health/liveliness HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && IFS= read -r -t 4 status <&3 && [[ $status == 'HTTP/1.1 200'* ]]"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["switchyard"]
# The gateway on 0.0.0.0:4000 with the embedded mock config (config/default.yaml).
CMD ["--host", "0.0.0.0", "--port", "4000"]
