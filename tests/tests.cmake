# tests/tests.cmake - every tests/<area>/test_*.c is one cmocka program and
# one ctest "<area>/<name>" labelled <area>; every tests/<area>/test_*.sh is
# a script test run by bash with the build's executables on PATH.
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)

# shared helpers for C tests (temp folders, process start/stop, test client)
file(GLOB PL_TESTLIB_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/lib/*.c)
add_library(pl_testlib STATIC ${PL_TESTLIB_SRC})
target_include_directories(pl_testlib PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(pl_testlib PUBLIC pl_proto PkgConfig::CMOCKA
                      PkgConfig::ZMQ PkgConfig::LMDB PkgConfig::JANSSON)
target_compile_definitions(pl_testlib PUBLIC
  PL_BIN_DIR="${CMAKE_BINARY_DIR}" PL_SRC_DIR="${CMAKE_SOURCE_DIR}")

# node fixtures (tests/lib/nodes: a temp store, the daemon state by hand),
# linked by every tests/nodes program
file(GLOB PL_TESTNODES_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/lib/nodes/*.c)
if(PL_TESTNODES_SRC AND TARGET pl_nodes)
  add_library(pl_testnodes STATIC ${PL_TESTNODES_SRC})
  target_link_libraries(pl_testnodes PUBLIC pl_nodes pl_testlib)
endif()

set(PL_TEST_ENV
  "PL_BIN_DIR=${CMAKE_BINARY_DIR}"
  "PL_SRC_DIR=${CMAKE_SOURCE_DIR}"
  "PL_TEST_BUILD=${PL_TEST_BUILD}"
  "PATH=${CMAKE_BINARY_DIR}:$ENV{PATH}")

foreach(area proto broker nodes adapters integration web federation packaging bench)
  if(area STREQUAL "proto" OR area STREQUAL "adapters"
     OR area STREQUAL "integration" OR area STREQUAL "web"
     OR area STREQUAL "federation" OR area STREQUAL "packaging")
    set(lib pl_proto)
  else()
    set(lib pl_${area})
  endif()
  file(GLOB csrcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/${area}/test_*.c)
  foreach(src ${csrcs})
    get_filename_component(name ${src} NAME_WE)
    if(TARGET ${lib})
      add_executable(${name} ${src})
      target_link_libraries(${name} PRIVATE ${lib} pl_testlib)
      if(area STREQUAL "nodes" AND TARGET pl_testnodes)
        target_link_libraries(${name} PRIVATE pl_testnodes)
      endif()
      add_test(NAME ${area}/${name} COMMAND ${name})
      set_tests_properties(${area}/${name} PROPERTIES LABELS ${area}
        TIMEOUT 600 ENVIRONMENT "${PL_TEST_ENV}")
    endif()
  endforeach()
  file(GLOB shsrcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/${area}/test_*.sh)
  foreach(src ${shsrcs})
    get_filename_component(name ${src} NAME_WE)
    add_test(NAME ${area}/${name} COMMAND bash ${src})
    set_tests_properties(${area}/${name} PROPERTIES LABELS ${area}
      TIMEOUT 600 ENVIRONMENT "${PL_TEST_ENV}")
  endforeach()
endforeach()

# fuzz targets: every tests/fuzz/fuzz_<name>.c defines LLVMFuzzerTestOneInput
# and has its committed seeds in tests/fuzz/corpus/<name>/. In every build
# each is linked with replay.c into fuzz_<name>_replay, run by the ctest
# fuzz/<name>_replay over its corpus; with -DPL_FUZZ=ON (clang) each is also
# a libFuzzer binary fuzz_<name> (`make fuzz-all FUZZ_SECONDS=N` runs them).
file(GLOB PL_FUZZ_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
foreach(src ${PL_FUZZ_SRC})
  get_filename_component(target ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" fname ${target})
  add_executable(${target}_replay ${src} ${CMAKE_SOURCE_DIR}/tests/fuzz/replay.c)
  target_link_libraries(${target}_replay PRIVATE pl_proto)
  add_test(NAME fuzz/${fname}_replay
    COMMAND ${target}_replay ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${fname})
  set_tests_properties(fuzz/${fname}_replay PROPERTIES LABELS fuzz TIMEOUT 300)
  if(PL_FUZZ)
    add_executable(${target} ${src})
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${target} PRIVATE pl_proto)
  endif()
endforeach()

# the fault suite: power-loss simulator, I/O errors, link faults (short form
# under ctest, long form with `make faults`)
include(${CMAKE_SOURCE_DIR}/tests/faults/faults.cmake)

# benchmarks: built always, run by hand (make bench), never by ctest
file(GLOB PL_BENCH_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/bench/bench_*.c)
foreach(src ${PL_BENCH_SRC})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE pl_testlib PkgConfig::LMDB)
  if(TARGET pl_nodes)
    target_link_libraries(${name} PRIVATE pl_nodes) # bench_audit: the store
  endif()
  if(TARGET pl_broker)
    target_link_libraries(${name} PRIVATE pl_broker) # bench_dedupe: the spool
  endif()
endforeach()

# issue 11: the control-request and --stdin fuzz targets need pl_nodes
include(${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_cli.cmake)

# test-only tools (tests/tools/<name>.c -> executable <name> with '_' -> '-'),
# not installed, not part of the public CLI
file(GLOB PL_TOOL_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/tools/*.c)
foreach(src ${PL_TOOL_SRC})
  get_filename_component(name ${src} NAME_WE)
  string(REPLACE "_" "-" exe ${name})
  add_executable(${exe} ${src})
  target_link_libraries(${exe} PRIVATE pl_testlib)
endforeach()

# issue 12: tests and tools that use the CLI's code link the pl_cli library
# (no test includes a .c file of the CLI)
foreach(t test_children test_referral_flow bench_referral bench_wire pl-testmsg
          fuzz_stdin_replay fuzz_stdin test_cli_opts pl-ctlbench)
  if(TARGET ${t} AND TARGET pl_cli)
    target_link_libraries(${t} PRIVATE pl_cli)
  endif()
endforeach()
if(TARGET test_web_unit)
  target_link_libraries(test_web_unit PRIVATE pl_web) # passerelle-web's pieces
endif()
if(TARGET test_handover_flow AND TARGET pl_cli) # issue 13
  target_link_libraries(test_handover_flow PRIVATE pl_cli)
endif()

# the costliest tests start first (measured durations; tests/costs.cmake)
include(${CMAKE_SOURCE_DIR}/tests/costs.cmake)
