# Dockerfile — tally's programs in one image: tally-collector, tally-reporter,
# tally-watch, tally-bulletin (docker-compose.yml runs them).
#
#   docker build -t tally .
#   docker run --rm tally tally-collector --help
#
# Stage "build" has the compilers and -dev packages (scripts/deps.sh's list
# without the test and demo tools; `check` stays because CMakeLists.txt
# requires it to configure) and installs into /usr/local; the runtime stage
# has only the shared libraries, the binaries and share/tally (migrations and
# catalogs, where `tally-collector migrate` looks first), and runs as an
# unprivileged user. tests/deploy/install.sh runs the same configure, build
# and install commands without Docker.

FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config \
        libzmq3-dev libczmq-dev libmsgpack-dev libpq-dev check libjansson-dev libcsv-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# RelWithDebInfo is the project's default build type (-O2, asserts kept on);
# --strip drops the debug information from the installed binaries.
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
        -DCMAKE_INSTALL_PREFIX=/usr/local \
 && cmake --build /build -j"$(nproc)" \
 && cmake --install /build --strip \
 && mkdir -p /usr/local/share/doc/tally

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libzmq5 libczmq4 libmsgpackc2 libpq5 libjansson4 libcsv3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system tally \
 && useradd --system --gid tally --home-dir /var/lib/tally --no-create-home \
        --shell /usr/sbin/nologin tally \
 && install -d -o tally -g tally -m 0750 /var/lib/tally /var/lib/tally/outbox /var/lib/tally/inbox
COPY --from=build /usr/local/bin/ /usr/local/bin/
COPY --from=build /usr/local/share/tally/ /usr/local/share/tally/
# Example configs, when the install has them (deploy/CMakeLists.txt).
COPY --from=build /usr/local/share/doc/ /usr/local/share/doc/
USER tally
WORKDIR /var/lib/tally
# 7701 reports (ROUTER), 7702 totals feed (PUB), 7703 snapshots and ping (ROUTER).
EXPOSE 7701 7702 7703
# For the collector: 0 = answers and its database is up. Docker reserves exit
# codes other than 0 and 1, so ping's 2 (no answer) is reported as 1. Other
# services of the image (reporter, watch) switch it off in docker-compose.yml.
HEALTHCHECK --interval=10s --timeout=10s --start-period=10s --retries=3 \
    CMD tally-collector ping --timeout 5 || exit 1
CMD ["tally-collector", "--help"]
