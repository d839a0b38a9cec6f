/* The exported surface.  The libraries are built with -fvisibility=hidden:
 * a function is part of the API, and exported, only when an installed
 * header declares it with TT_API. */
#ifndef TASKTRACE_API_H
#define TASKTRACE_API_H

#define TT_API __attribute__((visibility("default")))

#endif
