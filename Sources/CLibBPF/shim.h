#ifndef ARK_CLIBBPF_SHIM_H
#define ARK_CLIBBPF_SHIM_H
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <stdarg.h>
#include <stdio.h>

/* The length of a libbpf message, without using up its va_list (Swift
 * cannot va_copy): verifier logs arrive as one message of any size. */
static inline int ark_formatted_length(const char *format, va_list arguments)
{
	va_list copy;
	va_copy(copy, arguments);
	int length = vsnprintf(NULL, 0, format, copy);
	va_end(copy);
	return length;
}

/* A BPF ring buffer's positions and sample headers, read and written as
 * the kernel pairs them (smp_load_acquire / smp_store_release). */
static inline unsigned long ark_load_acquire(const unsigned long *position)
{
	return __atomic_load_n(position, __ATOMIC_ACQUIRE);
}

static inline unsigned int ark_load_acquire_32(const unsigned int *header)
{
	return __atomic_load_n(header, __ATOMIC_ACQUIRE);
}

static inline void ark_store_release(unsigned long *position, unsigned long value)
{
	__atomic_store_n(position, value, __ATOMIC_RELEASE);
}
#endif
