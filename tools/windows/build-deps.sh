#!/usr/bin/env bash
# tools/windows/build-deps.sh - the helper's libraries as static builds, made
# once from Debian's own source packages, for one target:
#
#   tools/windows/build-deps.sh [win64]   Windows x64, cross-built with mingw-w64
#                                         (or: ./build.sh windows-deps)
#   tools/windows/build-deps.sh linux64   Linux x64, for the package's helper
#                                         (called by ./build.sh package)
#
# Each library is a static build in $EXCHANGEMFA_TOOLS/<target>/<pkg>-<version>/
# (default tools folder: ~/.cache/exchangemfa/tools), with a stamp file that
# holds the hash of its recipe (build_<pkg>_<target> where the target needs
# its own, else build_<pkg>): a later run skips it in seconds; a changed
# recipe or version builds it again. <target>/pkgconfig/ gathers the .pc
# files for cmake/mingw-w64-x86_64.cmake or the package build. The source
# packages are downloaded once into win64/src/, for both targets. Compiles
# run under nice with 2 jobs at most.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS=${EXCHANGEMFA_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/exchangemfa/tools}
TARGET=${1:-win64}
case "$TARGET" in
    win64 | linux64) ;;
    *) echo "usage: $0 [win64|linux64]" >&2; exit 2 ;;
esac
PREFIXES=$TOOLS/$TARGET
SOURCES=$TOOLS/win64/src   # where the Windows build first put them; linux64 shares them
HOST=x86_64-w64-mingw32
JOBS=${EM_JOBS:-2}
# Debian 12's source versions, in build order (curl needs OpenSSL and zlib
# first). Another version is refused: a new Debian update means editing this
# list (and docs/windows.md) on purpose. An epoch ("1:") is left out of
# folder names, as Debian leaves it out of its file names.
PINS=(
    openssl=3.0.20-1~deb12u2
    zlib=1:1.2.13.dfsg-1
    curl=7.88.1-10+deb12u15
    yajl=2.1.0-3+deb12u2
    libmicrohttpd=0.9.75-6
    cmocka=1.1.5-2.1
)
if [ "$TARGET" = win64 ]; then
    DEBIAN_PACKAGES=(gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 wine wine64
        dpkg-dev perl make cmake pkg-config xz-utils)
else
    DEBIAN_PACKAGES=(build-essential dpkg-dev perl make cmake pkg-config xz-utils)
fi
SOURCES_FILE=/etc/apt/sources.list.d/exchangemfa-deb-src.sources

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { echo "build-deps.sh: $*" >&2; exit 1; }
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
build() { nice -n 19 "$@"; }

install_debian_packages() {
    local missing=() pkg
    for pkg in "${DEBIAN_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    sudo_if_needed apt-get update -qq
    DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# apt-get source needs deb-src entries. We add them for the machine's own
# Debian archives: every deb822 stanza (*.sources) whose URIs are Debian's is
# copied with "Types: deb-src" into one file of ours; a one-line-style
# sources.list gets its "deb" lines copied as "deb-src" lines.
add_deb_src() {
    grep -rqsE '^(Types:.*deb-src|deb-src[[:space:]])' /etc/apt/sources.list /etc/apt/sources.list.d/ && return 0
    say "adding deb-src entries for the machine's Debian archives ($SOURCES_FILE)"
    local stanzas lines
    stanzas=$(awk 'BEGIN { RS = ""; ORS = "\n\n" }
        /(^|\n)URIs:[^\n]*debian/ && /(^|\n)Types:[^\n]*deb( |$|\n)/ {
            sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print }' \
        /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    lines=$(sed -n 's/^deb\([[:space:]].*debian.*\)/deb-src\1/p' /etc/apt/sources.list 2>/dev/null || true)
    [ -n "$stanzas$lines" ] || die "no Debian archive found in /etc/apt/sources.list(.d) to add deb-src for"
    if [ -n "$stanzas" ]; then
        printf '%s' "$stanzas" | sudo_if_needed tee "$SOURCES_FILE" >/dev/null
    else
        printf '%s\n' "$lines" | sudo_if_needed tee "${SOURCES_FILE%.sources}.list" >/dev/null
    fi
    sudo_if_needed apt-get update -qq
}

# Downloads the pinned source package once into win64/src/<pkg>-<version>/
# and unpacks it (with Debian's patches) into a fresh build folder.
unpack_source() {
    local pkg=$1 version=$2 src=$SOURCES/$1-${2#*:} work=$3
    if ! ls "$src"/*.dsc >/dev/null 2>&1; then
        say "apt-get source $pkg=$version"
        mkdir -p "$src"
        (cd "$src" && apt-get source --download-only -qq "$pkg=$version" 2>&1 | grep -v 'unsandboxed as root' >&2) ||
            true
        ls "$src"/*.dsc >/dev/null 2>&1 ||
            die "Debian serves no $pkg $version (apt-cache showsrc $pkg lists what it has); the pin in $0 must be changed on purpose"
    fi
    rm -rf "$work"
    mkdir -p "$(dirname "$work")"
    dpkg-source --no-check --no-copy -x "$src"/*.dsc "$work" >/dev/null   # tarballs stay in src/
}

# --- recipes: one per source package; $1 = source tree, $2 = install prefix ---

# libcrypto and libssl only (no apps, docs or tests); ciphers nobody here
# uses are left out to shorten the build. Legacy PKCS#12 (3DES, RC2) stays:
# administrators' .pfx files still use it.
build_openssl() {
    local tree=$1 prefix=$2
    (cd "$tree" &&
        CC=gcc-posix build ./Configure mingw64 --cross-compile-prefix=$HOST- \
            --prefix="$prefix" --libdir=lib --openssldir="$prefix/ssl" \
            no-shared no-tests no-module no-dso no-engine no-comp no-ssl3 no-srp \
            no-idea no-mdc2 no-rc5 no-camellia no-seed no-aria no-whirlpool \
            no-sm2 no-sm3 no-sm4 no-gost no-siphash no-ocb >/dev/null &&
        build make -j"$JOBS" build_libs >/dev/null &&
        make install_dev >/dev/null)
}

# A CMake project for the target: through the mingw-w64 toolchain file for
# win64, with the build machine's compiler for linux64 (the name stays, since
# the recipes' hashes, their cache stamps, include it).
cmake_cross() {
    local tree=$1 prefix=$2 toolchain=(); shift 2
    [ "$TARGET" = win64 ] &&
        toolchain=(-DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/mingw-w64-x86_64.cmake" -DEM_WIN64_DEPS="$PREFIXES")
    build cmake -S "$tree" -B "$tree/_build" "${toolchain[@]}" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_INSTALL_PREFIX="$prefix" -DBUILD_SHARED_LIBS=OFF "$@" >/dev/null
}

# HTTP and HTTPS only, against our OpenSSL, with our zlib (gzip and deflate
# answers); no CA path of the build machine is baked in (trust comes from the
# Windows store and EXCHANGEMFA_CA_FILE). FindOpenSSL names mingw's libraries
# LIB_EAY/SSL_EAY: given as paths, since the toolchain confines searches to
# the mingw root; zlib's too.
build_curl() {
    local tree=$1 prefix=$2 openssl zlib version
    openssl=$(prefix_of openssl)
    zlib=$(prefix_of zlib)
    cmake_cross "$tree" "$prefix" -DBUILD_CURL_EXE=OFF -DBUILD_TESTING=OFF -DENABLE_MANUAL=OFF \
        -DHTTP_ONLY=ON -DCURL_USE_OPENSSL=ON -DOPENSSL_USE_STATIC_LIBS=ON -DOPENSSL_INCLUDE_DIR="$openssl/include" \
        -DLIB_EAY="$openssl/lib/libcrypto.a" -DSSL_EAY="$openssl/lib/libssl.a" \
        -DCURL_CA_BUNDLE=none -DCURL_CA_PATH=none -DCURL_BROTLI=OFF -DCURL_ZSTD=OFF \
        -DCURL_ZLIB=ON -DZLIB_INCLUDE_DIR="$zlib/include" -DZLIB_LIBRARY="$zlib/lib/libz.a" \
        -DUSE_LIBIDN2=OFF -DUSE_NGHTTP2=OFF -DCURL_USE_LIBSSH2=OFF -DCURL_USE_LIBPSL=OFF
    # curl's CMake leaves zlib out quietly when it cannot use it: not here.
    grep -q '^#define HAVE_LIBZ 1' "$tree/_build/lib/curl_config.h" ||
        { echo "curl's CMake did not take zlib ($zlib)" >&2; return 1; }
    build cmake --build "$tree/_build" -j"$JOBS" >/dev/null
    cmake --install "$tree/_build" >/dev/null
    # curl's CMake writes a .pc without CURL_STATICLIB (so curl.h would ask
    # for a DLL) and with the compiler's own libraries in it: ours instead.
    version=$(sed -n 's/^#define LIBCURL_VERSION "\(.*\)"$/\1/p' "$prefix/include/curl/curlver.h")
    write_pc "$prefix" libcurl "$version" "Requires.private: libssl libcrypto zlib" \
        "Libs: -L\${libdir} -lcurl" "Libs.private: -lws2_32 -lwinmm -ladvapi32 -lcrypt32 -lbcrypt" \
        "Cflags: -I\${includedir} -DCURL_STATICLIB"
}

# The static library, its headers and zlib.pc (the same recipe for both
# targets: zlib's configure takes mingw as CHOST). Debian's source has no
# win32/ folder, so no Makefile.gcc.
build_zlib() {
    local tree=$1 prefix=$2 chost=
    [ "$TARGET" = win64 ] && chost=$HOST
    (cd "$tree" &&
        CHOST=$chost build ./configure --static --prefix="$prefix" >/dev/null &&
        build make -j"$JOBS" libz.a >/dev/null &&
        make install >/dev/null)
}

# Only the static library and headers; yajl's tools and tests are not needed.
# Its CMakeLists takes WIN32 for MSVC (/W4 ...): made to ask for MSVC.
build_yajl() {
    local tree=$1 prefix=$2 version
    sed -i 's/^IF (WIN32)$/IF (MSVC)/' "$tree/CMakeLists.txt"
    cmake_cross "$tree" "$prefix"
    build cmake --build "$tree/_build" -j"$JOBS" --target yajl_s >/dev/null
    mkdir -p "$prefix/include/yajl" "$prefix/lib/pkgconfig"
    cp "$tree"/src/api/*.h "$tree"/_build/yajl-*/include/yajl/yajl_version.h "$prefix/include/yajl/"
    cp "$tree"/_build/yajl-*/lib/libyajl_s.a "$prefix/lib/libyajl.a"
    version=$(sed -n 's/^#define YAJL_VERSION \([0-9]*\)$/\1/p' "$prefix/include/yajl/yajl_version.h")
    write_pc "$prefix" yajl "$((version / 10000)).$((version / 100 % 100)).$((version % 100))" \
        "Libs: -L\${libdir} -lyajl" "Cflags: -I\${includedir}"
}

# No HTTPS (the loopback listener is plain HTTP on 127.0.0.1), no docs or examples.
build_libmicrohttpd() {
    local tree=$1 prefix=$2
    (cd "$tree" &&
        CC=$HOST-gcc-posix build ./configure --host=$HOST --prefix="$prefix" \
            --disable-shared --enable-static --disable-https --without-gnutls \
            --disable-doc --disable-examples --disable-curl --disable-nls >/dev/null &&
        build make -j"$JOBS" -C src/microhttpd >/dev/null &&
        make -C src/microhttpd install >/dev/null &&
        make install-pkgconfigDATA >/dev/null &&
        make -C src/include install >/dev/null)
    # Its configure leaves Libs.private empty on mingw: Winsock is needed.
    sed -i 's/^Libs.private:.*/Libs.private: -lws2_32/' "$prefix/lib/pkgconfig/libmicrohttpd.pc"
}

# For the cross-built unit tests.
build_cmocka() {
    local tree=$1 prefix=$2
    cmake_cross "$tree" "$prefix" -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF
    build cmake --build "$tree/_build" -j"$JOBS" --target cmocka-static >/dev/null
    mkdir -p "$prefix/include" "$prefix/lib/pkgconfig"
    cp "$tree"/include/cmocka.h "$prefix/include/"
    cp "$(find "$tree/_build" -name 'libcmocka-static.a' | head -1)" "$prefix/lib/libcmocka.a"
    write_pc "$prefix" cmocka 1.1.5 "Libs: -L\${libdir} -lcmocka" "Cflags: -I\${includedir}"
}

# --- linux64: the package's Linux helper links these statically, so it runs
# without Debian's -dev packages; glibc stays shared (docs/package.md) ---

# The options of build_openssl (repeated: that recipe's text is the win64
# cache's stamp), with the Linux trust store: OPENSSLDIR /etc/ssl, where
# Debian, Ubuntu, SUSE and Arch keep certs/ (SSL_CERT_FILE and SSL_CERT_DIR
# name others), since curl is told to use OpenSSL's default paths.
build_openssl_linux64() {
    local tree=$1 prefix=$2
    (cd "$tree" &&
        build ./Configure linux-x86_64 --prefix="$prefix" --libdir=lib --openssldir=/etc/ssl \
            no-shared no-tests no-module no-dso no-engine no-comp no-ssl3 no-srp \
            no-idea no-mdc2 no-rc5 no-camellia no-seed no-aria no-whirlpool \
            no-sm2 no-sm3 no-sm4 no-gost no-siphash no-ocb >/dev/null &&
        build make -j"$JOBS" build_libs >/dev/null &&
        make install_dev >/dev/null)
}

# HTTP and HTTPS only, with our zlib (given as paths, so the machine's
# libz.so is not taken); no CA file of the build machine baked in: OpenSSL's
# default verify paths (CURL_CA_FALLBACK) find the target machine's store.
build_curl_linux64() {
    local tree=$1 prefix=$2 openssl zlib version
    openssl=$(prefix_of openssl)
    zlib=$(prefix_of zlib)
    cmake_cross "$tree" "$prefix" -DBUILD_CURL_EXE=OFF -DBUILD_TESTING=OFF -DENABLE_MANUAL=OFF \
        -DHTTP_ONLY=ON -DCURL_USE_OPENSSL=ON -DOPENSSL_USE_STATIC_LIBS=ON -DOPENSSL_ROOT_DIR="$openssl" \
        -DCURL_CA_BUNDLE=none -DCURL_CA_PATH=none -DCURL_CA_FALLBACK=ON -DCURL_BROTLI=OFF \
        -DCURL_ZLIB=ON -DZLIB_INCLUDE_DIR="$zlib/include" -DZLIB_LIBRARY="$zlib/lib/libz.a" \
        -DCURL_ZSTD=OFF -DUSE_LIBIDN2=OFF -DUSE_NGHTTP2=OFF -DCURL_USE_LIBSSH2=OFF -DCURL_USE_LIBPSL=OFF \
        -DCURL_USE_GSSAPI=OFF -DENABLE_THREADED_RESOLVER=ON
    grep -q '^#define HAVE_LIBZ 1' "$tree/_build/lib/curl_config.h" ||
        { echo "curl's CMake did not take zlib ($zlib)" >&2; return 1; }
    build cmake --build "$tree/_build" -j"$JOBS" >/dev/null
    cmake --install "$tree/_build" >/dev/null
    version=$(sed -n 's/^#define LIBCURL_VERSION "\(.*\)"$/\1/p' "$prefix/include/curl/curlver.h")
    write_pc "$prefix" libcurl "$version" "Requires.private: libssl libcrypto zlib" \
        "Libs: -L\${libdir} -lcurl" "Libs.private: -pthread" "Cflags: -I\${includedir} -DCURL_STATICLIB"
}

build_libmicrohttpd_linux64() {
    local tree=$1 prefix=$2
    (cd "$tree" &&
        build ./configure --prefix="$prefix" \
            --disable-shared --enable-static --disable-https --without-gnutls \
            --disable-doc --disable-examples --disable-curl --disable-nls >/dev/null &&
        build make -j"$JOBS" -C src/microhttpd >/dev/null &&
        make -C src/microhttpd install >/dev/null &&
        make install-pkgconfigDATA >/dev/null &&
        make -C src/include install >/dev/null)
}

# write_pc PREFIX NAME VERSION "Field: value"... - a .pc file for a
# library whose own build writes none or a wrong one.
write_pc() {
    local prefix=$1 name=$2 version=$3; shift 3
    mkdir -p "$prefix/lib/pkgconfig"
    {
        printf 'prefix=%s\nlibdir=${prefix}/lib\nincludedir=${prefix}/include\n\n' "$prefix"
        printf 'Name: %s\nDescription: %s, static, for %s (ExchangeMfa)\nVersion: %s\n' "$name" "$name" "$TARGET" "$version"
        printf '%s\n' "$@"
    } >"$prefix/lib/pkgconfig/$name.pc"
}

# --- driver ---

prefix_of() {
    local pin version
    for pin in "${PINS[@]}"; do
        version=${pin#*=}
        [ "${pin%%=*}" = "$1" ] && { echo "$PREFIXES/$1-${version#*:}"; return 0; }
    done
    die "no pin for $1"
}

# The target's own recipe when it has one, else the shared one.
recipe_of() {
    if declare -F "build_$1_$TARGET" >/dev/null; then echo "build_$1_$TARGET"; else echo "build_$1"; fi
}

build_package() {
    local pkg=$1 version=$2 prefix work=$PREFIXES/build/$1-${2#*:} recipe_fn recipe start
    prefix=$(prefix_of "$pkg")
    recipe_fn=$(recipe_of "$pkg")
    recipe=$(declare -f "$recipe_fn" | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$prefix/.stamp" 2>/dev/null)" = "$version $recipe" ]; then
        return 0
    fi
    start=$(date +%s)
    say "building $pkg $version for $TARGET into $prefix"
    rm -rf "$prefix"
    unpack_source "$pkg" "$version" "$work"
    failed_work=$work   # named by the EXIT trap if the recipe stops the script
    "$recipe_fn" "$work" "$prefix" 2>"$work.log"   # compilers' warnings and errors
    failed_work=
    rm -rf "$work" "$work.log"
    rmdir "$PREFIXES/build" 2>/dev/null || true
    echo "$version $recipe" >"$prefix/.stamp"
    say "$pkg done in $(($(date +%s) - start)) s"
}

# One pkgconfig/ folder for all packages (links to each prefix's .pc files).
link_pkgconfig() {
    rm -rf "$PREFIXES/pkgconfig"
    mkdir -p "$PREFIXES/pkgconfig"
    local pin
    for pin in "${PINS[@]}"; do
        ln -s "$(prefix_of "${pin%%=*}")"/lib/pkgconfig/*.pc "$PREFIXES/pkgconfig/"
    done
}

failed_work=
report_failure() {
    [ -n "$failed_work" ] || return 0
    tail -n 20 "$failed_work.log" >&2 2>/dev/null
    echo "build-deps.sh: the build failed; its folder is kept in $failed_work, its messages in $failed_work.log" >&2
}

main() {
    trap report_failure EXIT
    install_debian_packages
    add_deb_src
    mkdir -p "$PREFIXES"
    local pin
    for pin in "${PINS[@]}"; do
        build_package "${pin%%=*}" "${pin#*=}"
    done
    link_pkgconfig
    echo "$PREFIXES"
}

main "$@"
