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
#endif
