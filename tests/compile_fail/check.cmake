# Compiles one compile_fail case and checks that it fails with the expected
# message, briefly: a mistake in a call gives the static_assert and little
# else. Run with -DCXX= -DINCLUDE= -DSOURCE= -DREGEX= -DMAX_LINES=.
execute_process(
  COMMAND ${CXX} -std=c++17 -fsyntax-only -I${INCLUDE} ${SOURCE}
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE out)
if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it must not")
endif()
if(NOT out MATCHES "${REGEX}")
  message(FATAL_ERROR "the compiler did not say \"${REGEX}\":\n${out}")
endif()
string(REGEX MATCHALL "\n" newlines "${out}")
list(LENGTH newlines lines)
if(lines GREATER MAX_LINES)
  message(FATAL_ERROR "${lines} lines of compiler output, more than ${MAX_LINES}:\n${out}")
endif()
message(STATUS "failed as it should, in ${lines} lines")
