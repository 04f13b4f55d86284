/* The test-only echo kind (tests/kinds/echo/echo.c). */
#ifndef GS_TEST_KIND_ECHO_H
#define GS_TEST_KIND_ECHO_H

#include "govstream/kind.h"

extern const gs_kind_ops_t gs_test_kind_echo;

#endif
