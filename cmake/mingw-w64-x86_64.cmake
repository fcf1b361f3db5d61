# Cross-compiling for Windows x64 with Debian's mingw-w64 (gcc-mingw-w64-x86-64).
#
#   cmake -S . -B build/win64 -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake \
#         [-DEM_WIN64_DEPS=<dir>]
#
# EM_WIN64_DEPS is the folder tools/windows/build-deps.sh fills (default:
# $EXCHANGEMFA_TOOLS/win64, or ~/.cache/exchangemfa/tools/win64). Its
# pkgconfig/ folder holds the .pc files of the static OpenSSL, zlib, libcurl,
# yajl, libmicrohttpd and cmocka, so pkg_check_modules finds them and nothing
# of the build machine's own (Linux) libraries.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(EM_MINGW_TRIPLET x86_64-w64-mingw32)

# Debian's "-posix" variants use winpthreads: C11/POSIX threads for the tests.
set(CMAKE_C_COMPILER ${EM_MINGW_TRIPLET}-gcc-posix)
set(CMAKE_CXX_COMPILER ${EM_MINGW_TRIPLET}-g++-posix)
set(CMAKE_RC_COMPILER ${EM_MINGW_TRIPLET}-windres)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# One self-contained .exe: libgcc and winpthreads linked in, no mingw DLLs to ship.
set(CMAKE_EXE_LINKER_FLAGS_INIT -static)
# Programs are run under Wine (tests, try_run).
set(CMAKE_CROSSCOMPILING_EMULATOR wine)

if(NOT EM_WIN64_DEPS)
  if(DEFINED ENV{EXCHANGEMFA_TOOLS})
    set(EM_WIN64_DEPS "$ENV{EXCHANGEMFA_TOOLS}/win64")
  elseif(DEFINED ENV{XDG_CACHE_HOME})
    set(EM_WIN64_DEPS "$ENV{XDG_CACHE_HOME}/exchangemfa/tools/win64")
  else()
    set(EM_WIN64_DEPS "$ENV{HOME}/.cache/exchangemfa/tools/win64")
  endif()
endif()
# try_compile projects read this file again: hand them the same folder.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES EM_WIN64_DEPS)

# Libraries and headers come from mingw-w64's root or from the cache, never
# from the build machine (pkg_check_modules finds each -l through these).
list(APPEND CMAKE_FIND_ROOT_PATH /usr/${EM_MINGW_TRIPLET} ${EM_WIN64_DEPS})

# Only the cached Windows .pc files, and static link lines (Libs.private too;
# PKG_CONFIG_ARGN needs CMake >= 3.22, Debian 12 has 3.25).
set(ENV{PKG_CONFIG_LIBDIR} "${EM_WIN64_DEPS}/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(PKG_CONFIG_ARGN --static)
