# Runs one example and checks what it printed: it must exit with 0 and its
# output (stdout and stderr together) must match every regex in EXPECT, a
# list separated by "|;|".
#   cmake -DPROGRAM=path -DEXPECT="re1|;|re2" -P run_example.cmake
execute_process(COMMAND ${PROGRAM} OUTPUT_VARIABLE out ERROR_VARIABLE out
                RESULT_VARIABLE rc TIMEOUT 60)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} exited with ${rc}:\n${out}")
endif()
string(REPLACE "|;|" ";" expected "${EXPECT}")
foreach(re IN LISTS expected)
  if(NOT out MATCHES "${re}")
    message(FATAL_ERROR "the output of ${PROGRAM} lacks /${re}/:\n${out}")
  endif()
endforeach()
message(STATUS "${PROGRAM}: every expected value is there")
