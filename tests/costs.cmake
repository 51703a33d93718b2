# tests/costs.cmake - the expected duration (s) of every test that takes
# 2 s or more, measured in the normal build on the 2-core CI machine
# (build/Testing/Temporary/LastTest.log, `ctest -j2`). ctest starts the
# costliest first when it has no CTestCostData.txt yet (a fresh clone, CI):
# without it, a 40 s test that happens to start last holds the whole run
# up. A test missing here costs 0 and runs in the gaps. Refresh the
# figures when a test changes a lot (scripts/test-costs.sh prints them).
set(PL_TEST_COSTS
  nodes/test_node_mapfull 21
  faults/test_link 41
  adapters/test_cli_ctl 31
  federation/test_fed_expiry 49
  faults/test_node_iofail 39
  nodes/test_node_linkcut 37
  faults/test_broker_iofault 35
  faults/test_diskfull_node 34
  faults/test_storefull_node 33
  broker/test_broker 40
  federation/test_fed_custody 24
  faults/test_diskfull_broker 22
  nodes/test_node_storm 22
  faults/test_ioerr_broker 19
  nodes/test_node_idle 18
  faults/test_faults_node 17
  web/test_web_mail 16
  federation/test_fed_door 14
  broker/test_registry_index 13
  web/test_web_flow 13
  adapters/test_cli_broker_ctl 13
  nodes/test_node_daemon 12
  nodes/test_broker_refused 12
  integration/test_operations 11
  faults/test_mapfull_broker 11
  broker/test_broker_ops 11
  adapters/test_cli_stdin 10
  nodes/test_layers 10
  faults/test_powerloss_broker 9
  nodes/test_node_refuse 8
  web/test_web_security 7
  broker/test_presence 7
  adapters/test_staff 7
  broker/test_broker_control 6
  broker/test_broker_store 6
  adapters/test_cli 6
  federation/test_fed_dir_restart 6
  nodes/test_overdue 6
  faults/test_fdflood_broker 5
  integration/test_demo 4
  nodes/test_inbound 4
  web/test_web_sessions 4
  web/test_web_handover 12
  federation/test_fed_handover 4
  nodes/test_node_chaos 4
  packaging/test_man 3
  nodes/test_handover_flow 2
  nodes/test_referral_flow 2
  nodes/test_staff 2
  nodes/test_children 2
  nodes/test_refused_loop 2
)
list(LENGTH PL_TEST_COSTS _pl_n)
math(EXPR _pl_last "${_pl_n} - 1")
foreach(_pl_i RANGE 0 ${_pl_last} 2)
  math(EXPR _pl_j "${_pl_i} + 1")
  list(GET PL_TEST_COSTS ${_pl_i} _pl_test)
  list(GET PL_TEST_COSTS ${_pl_j} _pl_cost)
  if(TEST ${_pl_test})
    set_tests_properties(${_pl_test} PROPERTIES COST ${_pl_cost})
  endif()
endforeach()

# a test that keeps a core busy (the headless browser: 7 s of CPU in 12 s)
# takes two of ctest's slots: `ctest -j4` on two cores runs it beside at
# most two others (a new browser or node.js validator test, or one that
# holds hundreds of connections, belongs here)
foreach(_pl_test web/test_web_flow adapters/test_coordination web/test_fhir_hsds
                 web/test_web_security web/test_web_handover)
  if(TEST ${_pl_test})
    set_tests_properties(${_pl_test} PROPERTIES PROCESSORS 2)
  endif()
endforeach()
