# cmake/PlMan.cmake - man pages from the scdoc sources man/NAME.SECTION.scd,
# generated at build time into build/man/manSECTION/NAME.SECTION (MANPATH
# for the tests) and installed gzipped (Debian policy 12.1). scdoc's extra
# paragraph macros are dropped by man/tidy.awk, so that `mandoc -Tlint`
# (tests/packaging/test_man.sh) is clean. Each page goes to the package of
# its executable; the command-group pages go with the CLI.
find_program(PL_SCDOC scdoc)
if(NOT PL_SCDOC)
  message(WARNING "scdoc not found: no man pages (scripts/deps.sh installs it)")
  return()
endif()
file(GLOB PL_MAN_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/man/*.scd)
set(PL_MAN_OUT "")
foreach(src ${PL_MAN_SRC})
  get_filename_component(page ${src} NAME)
  string(REGEX REPLACE "\\.scd$" "" page ${page})        # passerelle-node.8
  string(REGEX REPLACE "^.*\\.([0-9])$" "\\1" sec ${page}) # 8
  string(REGEX REPLACE "\\.[0-9]$" "" name ${page})        # passerelle-node
  set(out ${CMAKE_BINARY_DIR}/man/man${sec}/${page})
  set(gz ${CMAKE_BINARY_DIR}/man-gz/man${sec}/${page}.gz)
  add_custom_command(
    OUTPUT ${out} ${gz}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man/man${sec}
            ${CMAKE_BINARY_DIR}/man-gz/man${sec}
    COMMAND sh ${CMAKE_SOURCE_DIR}/man/build-page.sh ${PL_SCDOC} ${src} ${out}
            ${gz}
    DEPENDS ${src} ${CMAKE_SOURCE_DIR}/man/tidy.awk
            ${CMAKE_SOURCE_DIR}/man/build-page.sh
    VERBATIM
    COMMENT "scdoc ${page}")
  list(APPEND PL_MAN_OUT ${out} ${gz})
  if(name MATCHES "^passerelle-(broker|node|web)$")
    set(comp ${name})
  else()
    set(comp passerelle)
  endif()
  if(comp STREQUAL "passerelle" OR TARGET ${comp})
    install(FILES ${gz} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${sec}
            COMPONENT ${comp})
  endif()
endforeach()
add_custom_target(pl_man ALL DEPENDS ${PL_MAN_OUT})
