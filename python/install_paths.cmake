# Run by `cmake --install` (CMakeLists.txt): tells the installed Python
# package where libjoule.so went, under the prefix given at install time, so
# that it loads without ldconfig or LD_LIBRARY_PATH.
set(joule_package "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/${JOULE_PYTHON_INSTALL_DIR}/joule")
file(WRITE "${joule_package}/_install.py"
     "# Written by cmake --install: where libjoule.so was installed.\n"
     "LIBRARY = \"${CMAKE_INSTALL_PREFIX}/${JOULE_LIBDIR}/libjoule.so\"\n")
