#ifndef ARK_CLINUX_SHIM_H
#define ARK_CLINUX_SHIM_H
/* Linux system headers that Glibc's Swift module does not export. */
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <malloc.h>           /* malloc_trim: return start-up heap to the kernel */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>

/* prctl is variadic, which Swift cannot call: a child killed when its parent dies. */
static inline int ark_die_with_parent(void) { return prctl(PR_SET_PDEATHSIG, SIGKILL); }

/* The control-message macros, which Swift cannot import: descriptors
 * passed over a Unix socket (SCM_RIGHTS). */
static inline size_t ark_cmsg_space(size_t length) { return CMSG_SPACE(length); }
static inline size_t ark_cmsg_len(size_t length) { return CMSG_LEN(length); }
static inline struct cmsghdr *ark_cmsg_firsthdr(struct msghdr *message) { return CMSG_FIRSTHDR(message); }
static inline struct cmsghdr *ark_cmsg_nxthdr(struct msghdr *message, struct cmsghdr *header)
{
	return CMSG_NXTHDR(message, header);
}
static inline unsigned char *ark_cmsg_data(struct cmsghdr *header) { return CMSG_DATA(header); }
#endif
