# tests/fuzz/fuzz_cli.cmake - included by tests/tests.cmake after the fuzz
# targets are made.
# Issue 11 (CLI part): the control-request and --stdin fuzz targets
# need more than pl_proto (pl_node_ctl_parse lives in pl_nodes; the --stdin
# parser needs jansson, which pl_nodes brings). Creates their replay tests
# (and libFuzzer binaries with PL_FUZZ) unless a glob over
# tests/fuzz/fuzz_*.c placed above made them already, then adds pl_nodes to
# their link either way. Included after any such glob.
if(TARGET pl_nodes)
  foreach(fz ctl_request stdin)
    if(NOT TARGET fuzz_${fz}_replay)
      add_executable(fuzz_${fz}_replay tests/fuzz/fuzz_${fz}.c
                     tests/fuzz/replay.c)
      add_test(NAME fuzz/${fz}_replay
        COMMAND fuzz_${fz}_replay ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/${fz})
      set_tests_properties(fuzz/${fz}_replay PROPERTIES LABELS fuzz
                           TIMEOUT 300)
    endif()
    target_link_libraries(fuzz_${fz}_replay PRIVATE pl_nodes)
    if(PL_FUZZ)
      if(NOT TARGET fuzz_${fz})
        add_executable(fuzz_${fz} tests/fuzz/fuzz_${fz}.c)
        target_compile_options(fuzz_${fz} PRIVATE -fsanitize=fuzzer)
        target_link_options(fuzz_${fz} PRIVATE -fsanitize=fuzzer)
      endif()
      target_link_libraries(fuzz_${fz} PRIVATE pl_nodes)
    endif()
  endforeach()
endif()
