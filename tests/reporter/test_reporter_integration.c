/*  test_reporter_integration.c — placeholder, filled in below. */
#include "tt.h"
int main (void) { return 0; }
