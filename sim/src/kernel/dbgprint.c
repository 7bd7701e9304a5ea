/* DbgPrintEx / DbgPrint of the simulated kernel: the variadic entry points the driver imports.
 * Rust (stable) cannot define a C variadic function, so the formatting happens here and the
 * line goes to the Rust side. */
#include <stdarg.h>
#include <stdio.h>

extern void ferrofilter_sim_debug_print(unsigned int component, unsigned int level,
                                        const char *text);

unsigned int DbgPrintEx(unsigned int component, unsigned int level, const char *format, ...) {
    char line[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(line, sizeof line, format, args);
    va_end(args);
    ferrofilter_sim_debug_print(component, level, line);
    return 0; /* STATUS_SUCCESS */
}

unsigned int DbgPrint(const char *format, ...) {
    char line[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(line, sizeof line, format, args);
    va_end(args);
    ferrofilter_sim_debug_print(0xFFFFFFFFu, 0, line);
    return 0;
}
