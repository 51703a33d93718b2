# cmake/PlInstall.cmake - `make install` (FHS) and `make deb` (CPack DEB).
#
# Layout (FHS 3.0, Debian policy 9.1): the CLI people type is in bin/; the
# daemons are in sbin/ because they are system administration programs run
# by systemd as the `passerelle` system user, not by ordinary users (the
# same choice as mosquitto, sshd). Read-only data (example configuration
# files, web assets) in share/passerelle/, man pages in share/man/, systemd
# units in PL_SYSTEMD_UNITDIR (Debian 12 keeps packaged units in
# /lib/systemd/system, so `make deb` passes that absolute path).
#
# Components, one Debian package each: passerelle (the CLI, the man pages of
# the command groups), passerelle-broker, passerelle-node, and passerelle-web
# when the target exists (adapters/web, issue 14).
include(GNUInstallDirs)

set(PL_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
    "where systemd units are installed (relative: under the prefix)")
set(PL_PKG ${CMAKE_SOURCE_DIR}/packaging)
set(PL_DOCDIR ${CMAKE_INSTALL_DATADIR}/doc)

# the components that exist in this tree, and what each holds
set(PL_COMPONENTS passerelle)
if(TARGET passerelle-broker)
  list(APPEND PL_COMPONENTS passerelle-broker)
endif()
if(TARGET passerelle-node)
  list(APPEND PL_COMPONENTS passerelle-node)
endif()
if(TARGET passerelle-web)
  list(APPEND PL_COMPONENTS passerelle-web)
endif()

install(TARGETS passerelle RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        COMPONENT passerelle)
foreach(d passerelle-broker passerelle-node passerelle-web)
  if(TARGET ${d})
    install(TARGETS ${d} RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR}
            COMPONENT ${d})
    # the unit names the daemon where this prefix puts it (the sources
    # say /usr/sbin, the Debian path)
    file(READ ${PL_PKG}/systemd/${d}@.service unit)
    string(REPLACE "/usr/sbin/" "${CMAKE_INSTALL_FULL_SBINDIR}/" unit "${unit}")
    file(WRITE ${CMAKE_BINARY_DIR}/packaging/${d}@.service "${unit}")
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
                 ${PL_PKG}/systemd/${d}@.service)
    install(FILES ${CMAKE_BINARY_DIR}/packaging/${d}@.service
            DESTINATION ${PL_SYSTEMD_UNITDIR} COMPONENT ${d})
  endif()
endforeach()
foreach(d broker node)
  if(TARGET passerelle-${d})
    install(FILES ${PL_PKG}/examples/${d}.conf
            DESTINATION ${CMAKE_INSTALL_DATADIR}/passerelle/examples
            COMPONENT passerelle-${d})
  endif()
endforeach()
# the RSS weights table (issue 17): equal PLACEHOLDER weights, the format a
# programme's own table has (`passerelle rss weights --load FILE`)
install(FILES ${CMAKE_SOURCE_DIR}/data/rss-weights-v1.json
        DESTINATION ${CMAKE_INSTALL_DATADIR}/passerelle COMPONENT passerelle)
# the feasibility grid of service matching (issue 18), programme data
install(FILES ${PL_PKG}/data/feasibility-grid.json
        DESTINATION ${CMAKE_INSTALL_DATADIR}/passerelle COMPONENT passerelle)
if(TARGET passerelle-web AND EXISTS ${CMAKE_SOURCE_DIR}/adapters/web/assets)
  install(DIRECTORY ${CMAKE_SOURCE_DIR}/adapters/web/assets/
          DESTINATION ${CMAKE_INSTALL_DATADIR}/passerelle/web
          COMPONENT passerelle-web)
  # the OpenAPI base and fragments (issue 16), assembled at start
  install(DIRECTORY ${CMAKE_SOURCE_DIR}/adapters/web/openapi/
          DESTINATION ${CMAKE_INSTALL_DATADIR}/passerelle/web/openapi
          COMPONENT passerelle-web FILES_MATCHING PATTERN "*.json")
endif()

# Debian wants /usr/share/doc/PKG/copyright and a compressed changelog in
# every binary package (policy 12.5 and 12.7)
set(PL_CHANGELOG_GZ ${CMAKE_BINARY_DIR}/packaging/changelog.gz)
add_custom_command(
  OUTPUT ${PL_CHANGELOG_GZ}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/packaging
  COMMAND gzip -9n -c ${PL_PKG}/changelog > ${PL_CHANGELOG_GZ}
  DEPENDS ${PL_PKG}/changelog)
add_custom_target(pl_changelog ALL DEPENDS ${PL_CHANGELOG_GZ})
foreach(c ${PL_COMPONENTS})
  install(FILES ${PL_PKG}/copyright ${PL_CHANGELOG_GZ}
          DESTINATION ${PL_DOCDIR}/${c} COMPONENT ${c})
endforeach()

# the guides (docs/*.md), named by the man pages' SEE ALSO
file(GLOB PL_GUIDES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/docs/*.md)
if(PL_GUIDES)
  install(FILES ${PL_GUIDES} DESTINATION ${PL_DOCDIR}/passerelle
          COMPONENT passerelle)
endif()

# man pages (cmake/PlMan.cmake, when scdoc is there)
if(EXISTS ${CMAKE_SOURCE_DIR}/cmake/PlMan.cmake)
  include(${CMAKE_SOURCE_DIR}/cmake/PlMan.cmake)
endif()

# ---- CPack: `make deb`
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL ${PL_COMPONENTS})
set(CPACK_PACKAGE_NAME passerelle)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Passerelle maintainers <maintainers@passerelle.example.org>")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://passerelle.invalid/")
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# no version suffix on the component packages' names
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
foreach(c ${PL_COMPONENTS})
  string(TOUPPER ${c} C)
  set(CPACK_DEBIAN_${C}_PACKAGE_NAME ${c})
  set(CPACK_COMPONENT_${C}_DISPLAY_NAME ${c})
  set(ctl "")
  foreach(s postinst prerm postrm)
    if(EXISTS ${PL_PKG}/debian/${c}/${s})
      list(APPEND ctl ${PL_PKG}/debian/${c}/${s})
    endif()
  endforeach()
  set(CPACK_DEBIAN_${C}_PACKAGE_CONTROL_EXTRA "${ctl}")
  set(CPACK_DEBIAN_${C}_PACKAGE_CONTROL_STRICT_PERMISSION ON)
endforeach()
set(CPACK_COMPONENT_PASSERELLE_DESCRIPTION
    "referral network for returning migrants - command line
passerelle is the command line of a Passerelle referral network: it sets
up homes and keys, enrols nodes and talks to a running node or broker.")
set(CPACK_COMPONENT_PASSERELLE-BROKER_DESCRIPTION
    "referral network for returning migrants - broker daemon
passerelle-broker routes signed, end-to-end encrypted envelopes between
the node daemons of a Passerelle network and cannot read them.")
set(CPACK_COMPONENT_PASSERELLE-NODE_DESCRIPTION
    "referral network for returning migrants - node daemon
passerelle-node keeps one organisation's encrypted store and exchanges
referrals with the other organisations through a broker.")
set(CPACK_COMPONENT_PASSERELLE-WEB_DESCRIPTION
    "referral network for returning migrants - staff web application
passerelle-web serves the staff pages of a Passerelle node.")
# the daemons' packages: the system user is made with adduser; the web
# application talks to a node on the same machine
set(CPACK_DEBIAN_PASSERELLE-BROKER_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PASSERELLE-NODE_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PASSERELLE-WEB_PACKAGE_DEPENDS "adduser, passerelle-node")
set(CPACK_DEBIAN_PASSERELLE-NODE_PACKAGE_RECOMMENDS "passerelle")
set(CPACK_DEBIAN_PASSERELLE-BROKER_PACKAGE_RECOMMENDS "passerelle")
include(CPack)
