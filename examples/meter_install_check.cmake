# Installs the meter component of a built tree into a scratch prefix, then
# builds examples/meter_example.c against the installed files twice: through
# find_package(joule) (target joule::meter) and through pkg-config (joule.pc),
# and runs both. Run by CTest as meter_install_consumer:
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -P meter_install_check.cmake
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "meter_install_check: -D${var}=... is required")
  endif()
endforeach()
set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}/consumer")

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()

run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}" --component joule_meter)

# 1. CMake package.
file(WRITE "${WORK_DIR}/consumer/CMakeLists.txt" "
cmake_minimum_required(VERSION 3.20)
project(consumer C CXX)
find_package(joule 0.1 REQUIRED)
add_executable(meter_example \"${SOURCE_DIR}/examples/meter_example.c\")
target_link_libraries(meter_example PRIVATE joule::meter)
set_target_properties(meter_example PROPERTIES LINKER_LANGUAGE CXX)
")
run(${CMAKE_COMMAND} -S "${WORK_DIR}/consumer" -B "${WORK_DIR}/consumer/build"
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build "${WORK_DIR}/consumer/build")
run("${WORK_DIR}/consumer/build/meter_example")

# 2. pkg-config, with the C compiler alone.
find_program(PKG_CONFIG pkg-config REQUIRED)
find_program(CC NAMES cc gcc REQUIRED)
file(GLOB_RECURSE pc_files "${prefix}/*/joule.pc")
list(GET pc_files 0 pc_file)
get_filename_component(pc_dir "${pc_file}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
execute_process(COMMAND ${PKG_CONFIG} --cflags --libs joule RESULT_VARIABLE rc
                OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config does not find joule.pc under ${prefix}")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
run(${CC} "${SOURCE_DIR}/examples/meter_example.c" -o "${WORK_DIR}/meter_example_pc" ${flags})
run("${WORK_DIR}/meter_example_pc")
message(STATUS "meter_install_check: installed meter builds and runs via CMake and pkg-config")
