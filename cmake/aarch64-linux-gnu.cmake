# cmake/aarch64-linux-gnu.cmake - cross build for arm64 (a Raspberry Pi-class
# node) on a Debian 12 amd64 machine:
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
# Needs gcc-aarch64-linux-gnu and the arm64 -dev packages installed through
# multiarch (dpkg --add-architecture arm64); scripts/arm64.sh installs them.
# Debian's multiarch layout puts the arm64 libraries and their .pc files in
# /usr/lib/aarch64-linux-gnu, beside the amd64 ones, so the sysroot is "/"
# and pkg-config is pointed at the arm64 .pc files only. protoc-c (a build
# tool) runs natively: programs are looked up on the host.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(PL_CROSS_TRIPLET aarch64-linux-gnu)

set(CMAKE_C_COMPILER ${PL_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${PL_CROSS_TRIPLET}-g++)

# libraries and headers of the target only; programs (protoc-c) of the host
set(CMAKE_LIBRARY_ARCHITECTURE ${PL_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH /usr/${PL_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# pkg-config: only the arm64 .pc files (and the architecture-independent
# ones); without this it would hand back the amd64 link flags
set(ENV{PKG_CONFIG_LIBDIR}
    "/usr/lib/${PL_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# ctest (and try_run) start the arm64 programs through qemu user-mode
# emulation. -L is where qemu looks first for the files an arm64 program
# opens, the dynamic loader among them. It is "/" on purpose: the loader and
# libc must come from the same glibc build, and the libraries found through
# /etc/ld.so.cache are multiarch libc6:arm64 (/lib/aarch64-linux-gnu). With
# -L /usr/aarch64-linux-gnu (libc6-arm64-cross, an older 2.36 build on
# Debian 12) the cross loader was paired with the multiarch libc and every
# program that starts a ZeroMQ context spun at 100% CPU forever.
find_program(PL_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(PL_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${PL_QEMU_AARCH64} -L /)
endif()
