/* The table of hooks.h: empty until the reporters fill it. */
#include "runtime/hooks.h"

tt_rt_hooks tt__rt_hooks;
