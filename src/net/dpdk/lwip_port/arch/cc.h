/* lwIP architecture header for MusQraTT's DPDK transport: Linux, GCC, single thread (NO_SYS). */
#ifndef MUSQRATT_LWIP_ARCH_CC_H
#define MUSQRATT_LWIP_ARCH_CC_H

#include <stdio.h>
#include <stdlib.h>

#define LWIP_TIMEVAL_PRIVATE 0
#include <sys/time.h>

#define LWIP_ERRNO_INCLUDE <errno.h>

/* Used for TCP initial sequence numbers and local ports. */
#define LWIP_RAND() ((u32_t)random())

#define LWIP_PLATFORM_DIAG(x) \
  do {                        \
    printf x;                 \
  } while (0)
#define LWIP_PLATFORM_ASSERT(x)                                                       \
  do {                                                                                \
    fprintf(stderr, "lwIP assertion \"%s\" failed at line %d in %s\n", x, __LINE__, __FILE__); \
    abort();                                                                          \
  } while (0)

#endif
