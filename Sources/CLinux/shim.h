#ifndef ARK_CLINUX_SHIM_H
#define ARK_CLINUX_SHIM_H
/* Linux system headers that Glibc's Swift module does not export. */
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <malloc.h>           /* malloc_trim: return start-up heap to the kernel */
#endif
