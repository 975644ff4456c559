#ifndef ARK_CYAML_SHIM_H
#define ARK_CYAML_SHIM_H
/* libyaml's event API, for the rule loader. */
#include <yaml.h>
#endif
