# tests/faults/faults.cmake - the project's own fault suite (included from
# tests/tests.cmake). Layer: tests (faults).
#
#   pl_faultfs          LD_PRELOAD power-loss simulator / I/O error injector
#                       (tests/faults/pl_faultfs.c), built WITHOUT sanitizers
#                       or fuzzer instrumentation in every build: it is loaded
#                       into other processes (under ASan those need
#                       ASAN_OPTIONS=verify_asan_link_order=0)
#   tests/faults/test_*.c   one program and one ctest "faults/<name>" each,
#                       linked with the fault helpers (pl_faults.c)
#   tests/faults/test_*.sh  bash tests with the build's executables on PATH
# Every fault test runs its short form under ctest (`make test`); with
# PL_FAULTS_LONG=1 in the environment (`make faults`) the long form.
add_library(pl_faultfs SHARED ${CMAKE_SOURCE_DIR}/tests/faults/pl_faultfs.c)
set_target_properties(pl_faultfs PROPERTIES
  COMPILE_OPTIONS "-Wall;-Wextra;-Werror;-Wshadow;-Wmissing-prototypes;-fPIC"
  LINK_OPTIONS ""
  PREFIX "lib" OUTPUT_NAME "pl_faultfs")
target_link_libraries(pl_faultfs PRIVATE dl pthread)

set(PL_FAULT_ENV ${PL_TEST_ENV}
  "PL_FAULTFS=$<TARGET_FILE:pl_faultfs>")

add_library(pl_faults STATIC ${CMAKE_SOURCE_DIR}/tests/faults/pl_faults.c)
target_link_libraries(pl_faults PUBLIC pl_testlib)
target_compile_definitions(pl_faults PUBLIC
  PL_FAULTFS_PATH="$<TARGET_FILE:pl_faultfs>")

file(GLOB PL_FAULT_C CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/faults/test_*.c)
foreach(src ${PL_FAULT_C})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE pl_faults)
  add_dependencies(${name} pl_faultfs passerelle-broker passerelle-node
                   passerelle pl-testmsg pl-tcpproxy)
  add_test(NAME faults/${name} COMMAND ${name})
  # exit 77: skipped (a test that needs root to mount a tmpfs, say)
  set_tests_properties(faults/${name} PROPERTIES LABELS faults
    TIMEOUT 900 SKIP_RETURN_CODE 77 ENVIRONMENT "${PL_FAULT_ENV}")
endforeach()
file(GLOB PL_FAULT_SH CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/faults/test_*.sh)
foreach(src ${PL_FAULT_SH})
  get_filename_component(name ${src} NAME_WE)
  add_test(NAME faults/${name} COMMAND bash ${src})
  set_tests_properties(faults/${name} PROPERTIES LABELS faults
    TIMEOUT 900 ENVIRONMENT "${PL_FAULT_ENV}")
endforeach()
