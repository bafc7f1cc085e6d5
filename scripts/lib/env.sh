# shellcheck shell=bash
# Common environment for scripts/run, scripts/test and scripts/bench: the cache folder, the cargo
# target dir outside the clone, and DuckDB's prebuilt library (fetched once, checksum-checked).
# Source it; it sets DIEUHANH_CACHE, CARGO_TARGET_DIR, DUCKDB_LIB_DIR and DIEUHANH_BIN.

set -euo pipefail

DIEUHANH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export DIEUHANH_ROOT
# Binaries find the assets through this, not the path compiled into them: a target dir shared by
# two clones keeps whichever built it (cargo compares mtimes, not paths).
export DIEUHANH_ASSETS=${DIEUHANH_ASSETS:-$DIEUHANH_ROOT/assets}
export DIEUHANH_CACHE=${DIEUHANH_CACHE:-$HOME/.cache/dieuhanh}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$DIEUHANH_CACHE/target}
# Every script builds with the one dev profile (opt-level 3 for dependencies), so tests, benches and
# the demo share one set of artefacts.
export DIEUHANH_BIN=$CARGO_TARGET_DIR/debug

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Official DuckDB 1.5.6 prebuilt library, from the npm package DuckDB publishes for Node (MIT).
DUCKDB_NPM_PKG='@duckdb/node-bindings-linux-x64@1.5.6-r.1'
DUCKDB_NPM_SHA256='1b9f82478539bb9a1d1df44bd103121a12ae52142c07158dc52b97d2ec1d69ff'

# Set before anything builds: libduckdb-sys's build script reruns (and everything above it
# recompiles) whenever this variable changes between cargo invocations.
export DUCKDB_LIB_DIR=$DIEUHANH_CACHE/duckdb-1.5.6

ensure_duckdb() {
    local dir=$DUCKDB_LIB_DIR
    if [ ! -f "$dir/libduckdb.so" ]; then
        command -v npm >/dev/null || apt_install npm
        say "fetching DuckDB's prebuilt libduckdb.so ($DUCKDB_NPM_PKG)"
        local tmp
        tmp=$(mktemp -d)
        (cd "$tmp" && npm pack --silent "$DUCKDB_NPM_PKG" >/dev/null)
        local tgz=("$tmp"/*.tgz)
        local got
        got=$(sha256sum "${tgz[0]}" | cut -d' ' -f1)
        if [ "$got" != "$DUCKDB_NPM_SHA256" ]; then
            echo "error: $DUCKDB_NPM_PKG has sha256 $got, expected $DUCKDB_NPM_SHA256; refusing to use it" >&2
            rm -rf "$tmp"
            exit 1
        fi
        tar -xzf "${tgz[0]}" -C "$tmp" package/libduckdb.so package/LICENSE
        mkdir -p "$dir"
        mv "$tmp/package/LICENSE" "$dir/LICENSE"
        mv "$tmp/package/libduckdb.so" "$dir/libduckdb.so"
        rm -rf "$tmp"
    fi
}

# Installs Debian packages that are missing (needs root or sudo).
apt_install() {
    local missing=()
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# PyPI kosoku (Autobahn WebSocket conformance cases) in a cached virtual environment.
ensure_kosoku() {
    local venv=$DIEUHANH_CACHE/venv-kosoku
    if [ ! -x "$venv/bin/kosoku" ]; then
        command -v python3 >/dev/null || apt_install python3
        python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$venv"; }
        say "installing kosoku (Autobahn test cases) into $venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check 'kosoku==0.1.0'
    fi
    export KOSOKU=$venv/bin/kosoku
}

# A real browser for the pages' test (tests/tests/desk_browser.rs): Debian's Chromium, Node, and
# playwright-core (pinned in tests/browser/package.json) in a cached folder.
ensure_browser() {
    apt_install chromium
    command -v node >/dev/null || apt_install nodejs npm
    local dir=$DIEUHANH_CACHE/browser-test
    mkdir -p "$dir"
    if ! cmp -s "$DIEUHANH_ROOT/tests/browser/package.json" "$dir/package.json" \
        || [ ! -d "$dir/node_modules/playwright-core" ]; then
        say "installing playwright-core into $dir"
        cp "$DIEUHANH_ROOT/tests/browser/package.json" "$dir/package.json"
        (cd "$dir" && npm install --silent --no-audit --no-fund)
    fi
    export DIEUHANH_BROWSER_TEST=$dir
}

# What the wall needs without a GPU or a display: Mesa's software Vulkan (lavapipe) and Xvfb for
# window tests. winit panics on a half-configured Wayland session, and the wall uses X11 only.
ensure_graphics() {
    apt_install mesa-vulkan-drivers libvulkan1 xvfb xauth
    unset WAYLAND_DISPLAY
    # Mesa's Wayland probe prints "XDG_RUNTIME_DIR is invalid" for every device opened without
    # one (harmless, but it buries real errors in the test log).
    if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
        XDG_RUNTIME_DIR=$(mktemp -d /tmp/dieuhanh-xdg.XXXXXX)
        chmod 700 "$XDG_RUNTIME_DIR"
        export XDG_RUNTIME_DIR
    fi
}
