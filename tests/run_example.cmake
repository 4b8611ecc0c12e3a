# Runs one program and checks what it printed: it must exit with EXIT_CODE
# (default 0) and its output (stdout and stderr together) must match every
# regex in EXPECT and none in REJECT. Lists (EXPECT, REJECT, ARGS) are
# separated by "|;|".
#   cmake -DPROGRAM=path [-DARGS="a|;|b"] [-DEXIT_CODE=n] -DEXPECT="re1|;|re2"
#         [-DREJECT="re3"] -P run_example.cmake
if(NOT DEFINED EXIT_CODE)
  set(EXIT_CODE 0)
endif()
string(REPLACE "|;|" ";" args "${ARGS}")
execute_process(COMMAND ${PROGRAM} ${args} OUTPUT_VARIABLE out ERROR_VARIABLE out
                RESULT_VARIABLE rc TIMEOUT 60)
if(NOT rc EQUAL EXIT_CODE)
  message(FATAL_ERROR "${PROGRAM} exited with ${rc}, not ${EXIT_CODE}:\n${out}")
endif()
string(REPLACE "|;|" ";" expected "${EXPECT}")
foreach(re IN LISTS expected)
  if(NOT out MATCHES "${re}")
    message(FATAL_ERROR "the output of ${PROGRAM} lacks /${re}/:\n${out}")
  endif()
endforeach()
string(REPLACE "|;|" ";" rejected "${REJECT}")
foreach(re IN LISTS rejected)
  if(out MATCHES "${re}")
    message(FATAL_ERROR "the output of ${PROGRAM} has /${re}/, which it should not:\n${out}")
  endif()
endforeach()
message(STATUS "${PROGRAM}: every expected value is there")
